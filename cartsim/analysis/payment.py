"""What the payer pays for a one-time product under a payment model, patient by patient.

A one-time therapy's price can be paid in other ways than at infusion, and the ways
that depend on outcomes can only be valued with each patient's history:

* **upfront**: the price at the infusion, discounted from then (what every run counts);
* **annuity**: the price financed in ``years`` yearly instalments in arrears at the
  agreement's interest ``rate`` (each ``A = P i / (1 - (1 + i)^-N)``, or ``P / N`` at
  i = 0), the first a year after the infusion; instalments due after a stopping event
  (``on``: relapse and/or death) or after the model's follow-up ends are not paid;
* **outcome refund**: ``share`` of the price returned to the payer at the first
  triggering event (relapse and/or death) if it comes within ``within`` years of the
  infusion;
* **warranty**: the manufacturer pays the re-treatment product of a patient re-infused
  within ``within`` years of the first infusion.

Every amount is per patient, discounted to the start at the payer's continuous cost
rate ``r``; instalments replace the upfront charge (they are never added to it). A
patient never infused (``charge_time`` inf) pays nothing under any model. All functions
are pure: arrays in, arrays out. A time that is negative or inf means the event did not
happen (:func:`event_times` makes them from a strategy's per-patient columns).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from cartsim.scenario.payment import PaymentTerms


def happened(times: ArrayLike) -> np.ndarray:
    """Which times are of events that happened (finite and >= 0).

    >>> happened([0.0, 2.5, -1.0, math.inf]).tolist()
    [True, True, False, False]
    """
    t = np.asarray(times, dtype=float)
    return np.isfinite(t) & (t >= 0.0)


def instalment(price: float, years: int, rate: float) -> float:
    """The yearly instalment (in arrears) that repays ``price`` over ``years`` at ``rate``.

    >>> round(instalment(100_000.0, 5, 0.03), 2)
    21835.46
    >>> instalment(100_000.0, 4, 0.0)
    25000.0
    """
    if years < 1:
        msg = f"an annuity needs at least one instalment; got {years}"
        raise ValueError(msg)
    if rate == 0.0:
        return price / years
    # 1 - (1 + i)^-N, accurate for a tiny i (where it is about N i)
    return price * rate / -math.expm1(-years * math.log1p(rate))


def upfront_paid(amount: ArrayLike, charge_time: ArrayLike, r: float) -> np.ndarray:
    """``amount`` paid at ``charge_time``, discounted: ``amount e^{-r t}`` (0 if never)."""
    a, t = np.asarray(amount, dtype=float), np.asarray(charge_time, dtype=float)
    charged = happened(t)
    return np.where(charged, a * np.exp(-r * np.where(charged, t, 0.0)), 0.0)


def annuity_paid(amount: ArrayLike, charge_time: ArrayLike, stop_time: ArrayLike,
                 years: int, rate: float, r: float) -> np.ndarray:
    """Discounted instalments of each patient's ``amount``, due at ``t + 1 .. t + years``
    and paid if due no later than ``stop_time``.

    >>> round(float(annuity_paid([100.0], [0.0], [math.inf], 3, 0.05, math.log(1.05))[0]), 9)
    100.0
    """
    a, t = np.asarray(amount, dtype=float), np.asarray(charge_time, dtype=float)
    stop = np.asarray(stop_time, dtype=float)
    charged = happened(t)
    each = np.array([instalment(x, years, rate) for x in a.tolist()]) if a.size else a
    due = np.where(charged, t, 0.0)[:, None] + np.arange(1, years + 1, dtype=float)[None, :]
    paid = (due <= stop[:, None]) & charged[:, None]
    return each * np.sum(np.where(paid, np.exp(-r * due), 0.0), axis=1)


def refund_received(amount: ArrayLike, charge_time: ArrayLike, trigger_time: ArrayLike,
                    share: float, within: float, r: float) -> np.ndarray:
    """Discounted refunds: ``share`` of ``amount`` at the trigger if it comes within
    ``within`` years of the charge.

    >>> refund_received([100.0, 100.0], [0.0, 0.0], [1.0, 3.0], 0.5, 2.0, 0.0).tolist()
    [50.0, 0.0]
    """
    a, t = np.asarray(amount, dtype=float), np.asarray(charge_time, dtype=float)
    trig = np.asarray(trigger_time, dtype=float)
    both = happened(t) & happened(trig)
    gap = np.where(both, trig, 0.0) - np.where(both, t, 0.0)
    hit = both & (gap >= 0.0) & (gap <= within)
    return np.where(hit, share * a * np.exp(-r * np.where(hit, trig, 0.0)), 0.0)


def warranty_covered(retreatment_cost: ArrayLike, charge_time: ArrayLike,
                     retreatment_time: ArrayLike, within: float) -> np.ndarray:
    """The re-treatment product cost (already discounted) the manufacturer pays: that of
    patients first re-treated within ``within`` years of the first charge.

    >>> warranty_covered([30.0, 30.0, 0.0], [0.1, 0.1, 0.1], [2.0, 9.0, math.inf], 5.0).tolist()
    [30.0, 0.0, 0.0]
    """
    c, t = np.asarray(retreatment_cost, dtype=float), np.asarray(charge_time, dtype=float)
    tr = np.asarray(retreatment_time, dtype=float)
    both = happened(t) & happened(tr)
    hit = both & (np.where(both, tr, 0.0) - np.where(both, t, 0.0) <= within)
    return np.where(hit, c, 0.0)


def refund_closed_form(price: float, share: float, hazard: float, within: float,
                       r: float) -> float:
    """Expected discounted refund for an infusion at time 0 and a constant trigger hazard:
    ``share P λ / (λ + r) (1 - e^{-(λ + r) W})`` (the known value the tests check).

    >>> round(refund_closed_form(100.0, 0.5, 0.2, 2.0, 0.0), 4)
    16.484
    """
    k = hazard + r
    return share * price * hazard / k * (1.0 - math.exp(-k * within))


def event_times(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The first product charge, re-treatment charge and relapse of each patient, inf for
    none (the columns hold 0 then; the amounts and counts say whether it happened)."""
    n = columns["end_time"].size
    relapsed = columns.get("n_relapse", np.zeros(n)) > 0
    return {"product": np.where(columns["cost_product_undisc"] > 0.0, columns["t_product"],
                                np.inf),
            "retreatment": np.where(columns["cost_retreatment_product_undisc"] > 0.0,
                                    columns["t_retreatment"], np.inf),
            "relapse": np.where(relapsed, columns["t_relapse"], np.inf)}


def trigger_times(columns: Mapping[str, np.ndarray], on: Sequence[str]) -> np.ndarray:
    """Each patient's first event among ``on`` (relapse: ``t_relapse``; death: the end of
    follow-up of a patient who died); inf if none."""
    n = columns["end_time"].size
    out = np.full(n, np.inf)
    if "relapse" in on:
        out = np.minimum(out, event_times(columns)["relapse"])
    if "death" in on:
        out = np.minimum(out, np.where(columns["died"] == 1, columns["end_time"], np.inf))
    return out


def payment_change(terms: PaymentTerms, columns: Mapping[str, np.ndarray], r: float
                   ) -> tuple[np.ndarray, bool]:
    """Per patient, what the payer pays under ``terms`` minus what it pays upfront
    (discounted), and whether that change is proportional to the product price (annuity,
    refund: yes; warranty: it is the re-treatment product's price)."""
    times = event_times(columns)
    amount, t = columns["cost_product_undisc"], times["product"]
    upfront = upfront_paid(amount, t, r)
    if terms.model == "annuity":
        censored = np.where(columns["died"] == 1, np.inf, columns["end_time"])
        stop = np.minimum(censored, trigger_times(columns, terms.on))
        return annuity_paid(amount, t, stop, terms.years, terms.rate, r) - upfront, True
    if terms.model == "outcome_refund":
        return -refund_received(amount, t, trigger_times(columns, terms.on), terms.share,
                                terms.within_years, r), True
    if terms.model == "warranty":
        return -warranty_covered(columns["cost_retreatment_product"], t,
                                 times["retreatment"], terms.within_years), False
    return np.zeros(amount.size), True
