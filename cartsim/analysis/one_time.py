"""ICER's scenarios for single or short-term therapies: who is credited with the savings.

A one-time therapy is paid for at once, while its benefits and its *cost offsets*
(the comparator's spending on drugs, care and complications that it avoids)
accrue for life. ICER's adapted methods for high-impact single or short-term
therapies (ICER, "Adapted Value Assessment Methods for High-Impact Single and
Short-Term Therapies", Nov 2019; carried into its 2020-2023 Value Assessment
Framework) show, besides the standard analysis, two ways of *not* crediting all
of those offsets to the therapy:

* **shared savings** - the offsets are split 50/50 between the health system and
  the manufacturer, so only half is credited to the therapy;
* **offset cap** - the offsets credited in any year are capped at $150,000.

Here the therapy's own cost is the ``product`` and ``infusion_episode`` cost
categories (the CAR-T product and the apheresis-to-discharge episode, including
re-infusion); the *net cost offset* is the comparator's cost minus the
strategy's in every other category, so costs the therapy adds (monitoring,
immunoglobulin, its adverse events) are netted against the savings.

Rules (the README states them too):

* Sharing applies to a net *saving*: when the net offset is negative (the
  therapy adds cost elsewhere) there is nothing to share and it is counted in full.
* The cap applies year by year to the **cohort-mean** undiscounted offset per
  patient who started the model (the unit of ICER's cohort models), not to each
  simulated patient: a patient's offset is a paired difference of two random
  histories, and capping only its upper tail would bias the credit downwards by
  Monte Carlo noise. A year whose offset exceeds the cap has its discounted offset
  scaled by ``cap / offset``; years of net added cost are not changed.

The value-based (threshold) price of the product at willingness to pay λ is the
price at which INMB = λ ΔQALY - Δcost = 0. Cost is linear in the price through
the discounted number of product charges per patient ``units = Δcost_product /
price`` (re-infusions are charged again, later, so discounted), so
``price* = price + INMB / units`` exactly, whichever way the offsets are credited.
All functions are pure: numbers and arrays in, records out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from cartsim.analysis.cea import IcerResult, MeanEstimate, compute_icer, mcse
from cartsim.analysis.payment import payment_change
from cartsim.scenario.payment import PaymentTerms
from cartsim.vocabulary import THERAPY_CATEGORIES, cost_categories

Columns = Mapping[str, np.ndarray]
PRICE_CATEGORY = "product"
RETREATMENT_CATEGORY = "retreatment_product"
SHARE = 0.5
"""ICER's shared-savings scenario: the share of net offsets credited to the therapy."""
CAP = 150_000.0
"""ICER's offset-cap scenario: the most offset credited per patient-year (undiscounted)."""
VARIANTS = ("standard", "shared_savings", "offset_cap")


@dataclass(frozen=True)
class Variant:
    """One way of crediting the cost offsets, for one strategy against the comparator.

    ``offsets_credited``: the discounted net offset counted in ``inc_cost``;
    ``price[wtp]``: value-based price of the product (None if it has no units);
    ``years_capped``: years in which the cap binds (offset-cap variant only).
    """

    name: str
    offsets_credited: float
    inc_cost: MeanEstimate
    inc_qaly: MeanEstimate
    icer: IcerResult
    inmb: Mapping[float, float]
    price: Mapping[float, float | None]
    years_capped: int | None = None
    price_per_charge: Mapping[float, float | None] | None = None
    """Value-based price if every product charge (first infusion and re-infusions) had
    the same price; None where the re-infusions' charges cannot be counted."""


@dataclass(frozen=True)
class OneTimeResult:
    """The three variants, and what they share: the therapy's incremental cost,
    the discounted product units per patient and the full net cost offset."""

    strategy: str
    comparator: str
    therapy_cost: float
    product_cost: float
    units: float | None
    offsets: float
    variants: tuple[Variant, ...]
    retreatment_units: float | None = None
    """Discounted re-infusion product charges per patient (None: not countable)."""


def shared_offsets(offsets: float, share: float = SHARE) -> float:
    """The offset credited to the therapy when savings are shared.

    >>> shared_offsets(600_000.0)
    300000.0
    >>> shared_offsets(-20_000.0)   # a net added cost is not shared
    -20000.0
    """
    if not 0.0 <= share <= 1.0:
        msg = f"share must be in [0, 1]; got {share}"
        raise ValueError(msg)
    return share * offsets if offsets > 0.0 else offsets


def cap_excess(annual_discounted: ArrayLike, annual_undiscounted: ArrayLike,
               cap: float = CAP) -> tuple[float, int]:
    """Discounted offset above the annual cap, summed over years, and the years capped.

    Year k's undiscounted offset ``u_k`` above ``cap`` is cut to ``cap``; its
    discounted offset ``d_k`` is cut in the same proportion, so the excess is
    ``d_k (1 - cap / u_k)``.

    >>> cap_excess([190_000.0, 95_000.0], [200_000.0, 100_000.0])
    (47500.0, 1)
    """
    d = np.asarray(annual_discounted, dtype=float)
    u = np.asarray(annual_undiscounted, dtype=float)
    if d.shape != u.shape:
        msg = f"discounted and undiscounted offsets differ in length: {d.size} != {u.size}"
        raise ValueError(msg)
    if not cap >= 0.0:
        msg = f"cap must be >= 0; got {cap}"
        raise ValueError(msg)
    over = u > cap
    excess = d[over] * (1.0 - cap / u[over])
    return math.fsum(excess.tolist()), int(np.count_nonzero(over))


def value_based_price(price: float, inmb: float, units: float | None) -> float | None:
    """The product price at which INMB is 0: ``price + inmb / units``.

    None when the strategy has no product charges (``units`` None or 0).

    >>> value_based_price(450_000.0, 123_000.0, 1.23)
    550000.0
    """
    if units is None or units <= 0.0:
        return None
    return price + inmb / units


def price_per_charge(price: float, retreatment_price: float, inmb: float, units: float | None,
                     retreatment_units: float | None) -> float | None:
    """The one price for every product charge (first infusions ``units``, re-infusions
    ``retreatment_units``, both discounted per patient) at which INMB is 0.

    Cost is linear in each charge, so with both at ``x``: INMB(x) = inmb - (x - price)
    units - (x - retreatment_price) retreatment_units = 0.

    >>> price_per_charge(400_000.0, 25_000.0, 0.0, 1.0, 0.0)
    400000.0
    >>> price_per_charge(400_000.0, 0.0, 0.0, 0.9, 0.1)   # re-infusions now priced too
    360000.0
    """
    if units is None or retreatment_units is None or units + retreatment_units <= 0.0:
        return None
    return (inmb + price * units + retreatment_price * retreatment_units) / \
        (units + retreatment_units)


def one_time_variants(new: Columns, ref: Columns, annual_offsets: tuple[np.ndarray, np.ndarray],
                      *, strategy: str, comparator: str, wtp: Sequence[float],
                      price: float | None, share: float = SHARE,
                      cap: float = CAP, retreatment_price: float | None = None
                      ) -> OneTimeResult:
    """Standard, shared-savings and offset-cap results of ``new`` against ``ref``.

    Parameters
    ----------
    new, ref : Mapping[str, ndarray]
        Per-patient columns of the strategy and of the comparator (same patients):
        ``cost``, ``qaly`` and ``cost_<category>`` for every category.
    annual_offsets : (ndarray, ndarray)
        Cohort-mean net offset per patient in each year, discounted and undiscounted
        (comparator minus strategy, categories other than the therapy's).
    price : float or None
        The product's price as written in the scenario; None: no value-based price.
    retreatment_price : float or None
        A re-infusion's product charge as written (``retreatment_product`` category); with
        it the table also gives the price per product charge (None: not shown).

    Returns
    -------
    OneTimeResult
        ``standard`` equals the ordinary analysis exactly (difference of mean costs).
        The other variants add the offset not credited to the standard increment;
        their MCSE is that of the paired per-patient increments (for the cap, with
        the capped amount held fixed at its cohort-mean value).
    """
    def mean(x: np.ndarray) -> float:
        return math.fsum(x.tolist()) / x.size

    d_cost, d_qaly = new["cost"] - ref["cost"], new["qaly"] - ref["qaly"]
    inc_cost = mean(new["cost"]) - mean(ref["cost"])
    inc_qaly = MeanEstimate(mean(new["qaly"]) - mean(ref["qaly"]), mcse(d_qaly), d_qaly.size)
    others = [c for c in cost_categories(ref) if c not in THERAPY_CATEGORIES]
    per_patient_offset = sum((ref[f"cost_{c}"] - new[f"cost_{c}"] for c in others),
                             np.zeros(d_cost.size))
    offsets = mean(per_patient_offset)
    therapy = [mean(new[f"cost_{c}"]) - mean(ref[f"cost_{c}"]) for c in THERAPY_CATEGORIES]
    product = therapy[THERAPY_CATEGORIES.index(PRICE_CATEGORY)]
    units = product / price if price else None
    re_cost = therapy[THERAPY_CATEGORIES.index(RETREATMENT_CATEGORY)]
    re_units: float | None = None
    if retreatment_price:
        re_units = re_cost / retreatment_price
    elif re_cost == 0.0 and retreatment_price is not None:
        re_units = 0.0

    credited_shared = shared_offsets(offsets, share)
    excess, years_capped = cap_excess(*annual_offsets, cap=cap)
    plans = (
        ("standard", offsets, d_cost, None),
        ("shared_savings", credited_shared,
         d_cost + (1.0 - share) * per_patient_offset if offsets > 0.0 else d_cost, None),
        ("offset_cap", offsets - excess, d_cost, years_capped),
    )
    variants = []
    for name, credited, per_patient, capped in plans:
        cost = inc_cost + (offsets - credited)
        inmb = {float(w): w * inc_qaly.mean - cost for w in wtp}
        variants.append(Variant(
            name, credited, MeanEstimate(cost, mcse(per_patient), d_cost.size), inc_qaly,
            compute_icer(cost, inc_qaly.mean), inmb,
            {w: (value_based_price(price, x, units) if price is not None else None)
             for w, x in inmb.items()}, capped,
            {w: (price_per_charge(price, retreatment_price, x, units, re_units)
                 if price is not None and retreatment_price is not None else None)
             for w, x in inmb.items()}))
    return OneTimeResult(strategy, comparator, math.fsum(therapy), product,
                         units if units is not None and units > 0.0 else None, offsets,
                         tuple(variants), re_units)


@dataclass(frozen=True)
class PaymentVariant:
    """The standard analysis with the product paid under a payment model: ``change`` is
    the mean change in the payer's discounted cost per patient; ``units`` the payer's
    discounted payments per unit of price (None: no value-based price)."""

    change: float
    inc_cost: MeanEstimate
    icer: IcerResult
    inmb: Mapping[float, float]
    units: float | None
    price: Mapping[float, float | None]


def payment_variant(terms: PaymentTerms, new: Columns, ref: Columns, cost_rate: float,
                    inc_cost: float, units: float | None, price: float,
                    wtp: Sequence[float]) -> PaymentVariant:
    """Increments when the payer pays ``new``'s product under ``terms``.

    The change per patient replaces the upfront charge; for an annuity or a refund it is
    proportional to the price, so the value-based price is still ``price + inmb / units``
    with the payer's ``units`` scaled by the payments' present value per upfront dollar.
    """
    change, linear = payment_change(terms, new, cost_rate)
    mean_change = math.fsum(change.tolist()) / max(change.size, 1)
    d_cost = new["cost"] - ref["cost"] + change
    cost = inc_cost + mean_change
    inc_qaly = math.fsum((new["qaly"] - ref["qaly"]).tolist()) / max(change.size, 1)
    inmb = {float(w): w * inc_qaly - cost for w in wtp}
    paid_units = units
    if units is not None and linear:
        product = math.fsum(new["cost_product"].tolist()) / max(change.size, 1)
        paid_units = units * (product + mean_change) / product if product > 0.0 else None
    return PaymentVariant(mean_change, MeanEstimate(cost, mcse(d_cost), d_cost.size),
                          compute_icer(cost, inc_qaly), inmb, paid_units,
                          {w: value_based_price(price, x, paid_units) for w, x in inmb.items()})
