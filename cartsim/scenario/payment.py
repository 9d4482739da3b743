"""The optional ``[payment.<strategy>]`` tables: how the payer pays for a one-time product.

Outcome-based agreements are what payers negotiate for one-time cell and gene therapies;
valuing them needs each patient's history, which a patient-level model has. Each table
(or each entry of an array of tables, ``[[payment.car_t]]``, to compare several) names a
``model``::

    [payment.car_t]                      # instalments: the price financed over 5 years
    model = "annuity"
    years = 5                            # yearly instalments, the first a year after infusion
    rate = 0.03                          # the agreement's annual interest rate
    # on = ["death"]                     # instalments stop at these events (default: none)

    [payment.car_t]                      # a share of the price back on an early failure
    model = "outcome_refund"
    share = 0.5
    within_years = 2
    on = ["relapse", "death"]

    [payment.car_t]                      # the manufacturer pays any re-treatment product
    model = "warranty"
    # within_years = 5                   # re-infusions within this time of the infusion

``upfront`` (the price at infusion, as every run does) is always shown beside them. The
terms are fixed numbers (no distribution); ``source`` and ``note`` are free text. The
scenario's results (``summary``) stay at the upfront price; the ``one_time_therapy``
table shows the payer's cost and the value-based price under each model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cartsim.checks import Problems, integer, join, number, table, text, unknown_keys

MODELS = ("upfront", "annuity", "outcome_refund", "warranty")
TRIGGERS = ("relapse", "death")
KEYS = {
    "upfront": ("model", "source", "note"),
    "annuity": ("model", "years", "rate", "on", "source", "note"),
    "outcome_refund": ("model", "share", "within_years", "on", "source", "note"),
    "warranty": ("model", "within_years", "source", "note"),
}
MAX_YEARS = 100.0


@dataclass(frozen=True)
class PaymentTerms:
    """One payment model for one strategy's first-infusion product charge.

    ``years``/``rate``: an annuity's yearly instalments (in arrears) and interest rate;
    ``share``/``within_years``/``on``: the refund's share of the price, its window
    (years from the infusion) and the events that trigger it (or that stop an annuity);
    ``within_years`` of a warranty: the window for re-infusions (inf: any time).
    """

    model: str
    years: int = 0
    rate: float = 0.0
    share: float = 0.0
    within_years: float = math.inf
    on: tuple[str, ...] = ()
    source: str = ""

    def describe(self) -> str:
        """The terms in words (the table's ``payment_terms``)."""
        window = (f"within {self.within_years:g} years" if math.isfinite(self.within_years)
                  else "at any time")
        if self.model == "annuity":
            stop = f", stopping at {' or '.join(self.on)}" if self.on else ""
            return f"{self.years} yearly instalments at {self.rate:g} interest{stop}"
        if self.model == "outcome_refund":
            return f"{self.share:g} of the price refunded on {' or '.join(self.on)} {window}"
        if self.model == "warranty":
            return f"re-treatment product paid by the manufacturer {window}"
        return "the price paid at infusion"

    def fingerprint(self) -> dict[str, Any]:
        return {"model": self.model, "years": self.years, "rate": self.rate,
                "share": self.share, "on": list(self.on),
                "within_years": self.within_years if math.isfinite(self.within_years)
                else "inf"}


def _triggers(raw: Any, path: str, problems: Problems, *, required: bool) -> tuple[str, ...]:
    if raw is None:
        if required:
            problems.missing(path, f"a list of events from {', '.join(TRIGGERS)}")
        return ()
    if not isinstance(raw, list) or (required and not raw):
        problems.add(path, f"must be a list of events from {', '.join(TRIGGERS)}", raw)
        return ()
    out = [text(x, f"{path}[{i}]", problems, choices=TRIGGERS) for i, x in enumerate(raw)]
    names = tuple(x for x in out if x is not None)
    if len(set(names)) != len(names):
        problems.add(path, "names an event twice", raw)
    return names


def _terms(raw: Any, path: str, problems: Problems) -> PaymentTerms | None:
    spec = table(raw, path, problems)
    if spec is None:
        return None
    model = text(spec.get("model"), join(path, "model"), problems, choices=MODELS)
    if model is None:
        return None
    unknown_keys(spec, KEYS[model], path, problems)
    source = text(spec.get("source", ""), join(path, "source"), problems, max_len=2000) or ""
    text(spec.get("note", ""), join(path, "note"), problems, max_len=2000)

    def window(required: bool) -> float:
        if "within_years" not in spec and not required:
            return math.inf
        x = number(spec.get("within_years"), join(path, "within_years"), problems, low=0.0,
                   low_open=True, high=MAX_YEARS, what="a number of years > 0")
        return x if x is not None else math.inf

    if model == "annuity":
        years = integer(spec.get("years"), join(path, "years"), problems, low=1, high=100)
        rate = number(spec.get("rate", 0.0), join(path, "rate"), problems, low=0.0, high=0.2,
                      what="an annual interest rate (a fraction, e.g. 0.03)")
        on = _triggers(spec.get("on"), join(path, "on"), problems, required=False)
        return PaymentTerms(model, years=years or 1, rate=rate or 0.0, on=on, source=source)
    if model == "outcome_refund":
        share = number(spec.get("share"), join(path, "share"), problems, low=0.0, high=1.0,
                       what="a share of the price in [0, 1]")
        on = _triggers(spec.get("on"), join(path, "on"), problems, required=True)
        return PaymentTerms(model, share=share or 0.0, within_years=window(True), on=on,
                            source=source)
    if model == "warranty":
        return PaymentTerms(model, within_years=window(False), source=source)
    return PaymentTerms(model, source=source)


def parse_payment(raw: Mapping[str, Any], strategies: tuple[str, ...],
                  priced: Mapping[str, bool], problems: Problems
                  ) -> dict[str, tuple[PaymentTerms, ...]]:
    """Every strategy's payment models ({} without a ``[payment]`` table).

    ``priced[s]``: whether strategy ``s`` has a product price to pay differently.
    """
    if "payment" not in raw:
        return {}
    spec = table(raw["payment"], "payment", problems) or {}
    unknown_keys(spec, strategies, "payment", problems)
    out: dict[str, tuple[PaymentTerms, ...]] = {}
    for strategy, entry in spec.items():
        if strategy not in strategies:
            continue
        path = join("payment", strategy)
        if not priced.get(strategy, False):
            problems.add(path, "this strategy has no one-off product price to pay by a "
                         "payment model", None, has_value=False)
            continue
        entries = entry if isinstance(entry, list) else [entry]
        terms = [_terms(e, f"{path}[{i}]" if isinstance(entry, list) else path, problems)
                 for i, e in enumerate(entries)]
        out[strategy] = tuple(t for t in terms if t is not None)
    return out
