"""The ``one_time_therapy`` table of a run: ICER's single-therapy scenarios.

For every strategy against the comparator, three rows: the standard analysis,
shared savings (half of the net cost offsets credited to the therapy) and the
offset cap ($150,000 per patient-year), each with its incremental cost, ICER,
INMB and value-based price of the product at every willingness to pay of the
scenario. The arithmetic is in :mod:`cartsim.analysis.one_time`; the yearly
offsets come from :mod:`cartsim.outcomes.annual`.
"""

from __future__ import annotations

import math

import numpy as np

from cartsim.analysis.one_time import CAP, SHARE, one_time_variants, payment_variant
from cartsim.outcomes.annual import years_needed
from cartsim.scenario.model import Scenario
from cartsim.scenario.payment import PaymentTerms
from cartsim.scenario.strategies import LIBRARY
from cartsim.study.result import RunResult
from cartsim.study.run_tables import ICER_NOTE, curves_of
from cartsim.table import Table, wtp_key
from cartsim.vocabulary import THERAPY_CATEGORIES

UPFRONT = PaymentTerms("upfront")
PAYMENT_NOTE = (
    "payment: how the payer pays the first-infusion product (scenario [payment.<strategy>]; "
    "README 'Payment models'). upfront: the price at infusion, as in every other table. "
    "annuity: yearly instalments in arrears financing the price at the agreement's rate, "
    "none due after the stopping events or the end of follow-up; outcome_refund: a share of "
    "the price back at the first trigger within the window; warranty: the manufacturer pays "
    "the re-treatment product within the window. Payment rows credit every offset "
    "(standard). payer_therapy_cost: the therapy's incremental discounted cost to the payer "
    "under the model (instalments replace the upfront charge, never add to it); "
    "product_units and value_based_price_<wtp>: the payer's discounted payments per unit of "
    "price, and the price at which inmb_<wtp> = 0 under the model.")


def price_parameter(scenario: Scenario, strategy: str = "car_t") -> str | None:
    """The parameter that sets ``strategy``'s product price: in the clinical model the
    library's (``costs.car_t.product`` for CAR-T; None for a strategy without a product);
    in a custom model the one cost parameter of the ``product`` category, if there is
    exactly one (else None: no value-based price)."""
    if scenario.model == "cart_vs_is":
        info = LIBRARY.get(strategy)
        return info.price if info is not None and info.price in scenario.parameters else None
    names = [n for n, p in scenario.parameters.items()
             if p.kind == "cost" and n.rsplit(".", 1)[-1] == "product"]
    return names[0] if len(names) == 1 else None


def annual_offsets(result: RunResult, strategy: str) -> tuple[np.ndarray, np.ndarray]:
    """Cohort-mean net cost offset per patient by year (comparator minus ``strategy``,
    every category but the therapy's), discounted and undiscounted."""
    run = result.scenario.run
    ends = [o.columns["end_time"] for o in result.outcomes.values()]
    years, n = years_needed(ends), max(result.cohort.n, 1)

    def offsets(table: str) -> np.ndarray:
        curves = curves_of(result)
        by = {s: getattr(curves[s], table)[:years] / n for s in (strategy, run.comparator)}
        return by[run.comparator] - by[strategy]

    return offsets("annual_disc"), offsets("annual_undisc")


def _num(x: float | None) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def one_time_tables(result: RunResult) -> list[Table]:
    """The ``one_time_therapy`` table (a list, as the run's other table builders)."""
    scenario, run = result.scenario, result.scenario.run
    keys = [wtp_key(w) for w in run.wtp]
    columns = ("strategy", "comparator", "variant", "therapy_cost", "product_units",
               "cost_offsets", "offsets_credited", "years_capped", "inc_cost", "inc_cost_mcse",
               "inc_qaly", "inc_qaly_mcse", "icer", "icer_status",
               *[f"inmb_{k}" for k in keys], "price", *[f"value_based_price_{k}" for k in keys],
               "retreatment_units", "retreatment_price",
               *[f"value_based_price_per_charge_{k}" for k in keys],
               "payment", "payment_terms", "payer_therapy_cost")
    rows = []
    for s in result.strategies:
        if s == run.comparator:
            continue
        name = price_parameter(scenario, s)
        price = scenario.parameters[name].given_value if name else None
        re_name = LIBRARY[s].retreatment_price if scenario.model == "cart_vs_is" else None
        re_param = scenario.parameters.get(re_name) if re_name and name else None
        re_price = re_param.given_value if re_param is not None else None
        r = one_time_variants(result.outcomes[s].columns,
                              result.outcomes[run.comparator].columns,
                              annual_offsets(result, s), strategy=s,
                              comparator=run.comparator, wtp=run.wtp, price=price,
                              retreatment_price=re_price)
        for v in r.variants:
            rows.append((s, run.comparator, v.name, r.therapy_cost, _num(r.units), r.offsets,
                         v.offsets_credited, v.years_capped, v.inc_cost.mean,
                         _num(v.inc_cost.se), v.inc_qaly.mean, _num(v.inc_qaly.se),
                         _num(v.icer.value), v.icer.status, *[v.inmb[w] for w in run.wtp],
                         price, *[_num(v.price[w]) for w in run.wtp],
                         _num(r.retreatment_units), re_price,
                         *[_num((v.price_per_charge or {}).get(w)) for w in run.wtp],
                         "upfront", UPFRONT.describe(), r.therapy_cost))
        standard = r.variants[0]
        for terms in scenario.payment.get(s, ()):
            if terms.model == "upfront" or price is None:
                continue
            p = payment_variant(terms, result.outcomes[s].columns,
                                result.outcomes[run.comparator].columns, result.rates.costs,
                                standard.inc_cost.mean, r.units, price, run.wtp)
            rows.append((s, run.comparator, "standard", r.therapy_cost, _num(p.units),
                         r.offsets, standard.offsets_credited, None, p.inc_cost.mean,
                         _num(p.inc_cost.se), standard.inc_qaly.mean,
                         _num(standard.inc_qaly.se), _num(p.icer.value), p.icer.status,
                         *[p.inmb[w] for w in run.wtp], price,
                         *[_num(p.price[w]) for w in run.wtp], _num(r.retreatment_units),
                         re_price, *[None for _ in run.wtp], terms.model, terms.describe(),
                         r.therapy_cost + p.change))
    names = [price_parameter(scenario, s) for s in result.strategies if s != run.comparator]
    named = ", ".join(sorted({n for n in names if n})) or "no single product-price parameter: NA"
    if any(n is None for n in names) and any(names):
        named += "; NA for a strategy without a product"
    cur = f"{run.reported_currency} {run.reported_price_year}"
    notes = (
        "ICER's scenarios for single or short-term therapies (ICER adapted methods, 2019; "
        "Value Assessment Framework 2020-2023). standard: every cost offset credited to the "
        f"therapy. shared_savings: {SHARE:.0%} of a net saving credited (a net added cost is "
        f"counted in full). offset_cap: the cohort-mean undiscounted offset per patient is "
        f"capped at {CAP:,.0f} in each year (years_capped: years in which the cap binds), "
        "the discounted offset of a capped year scaled down in proportion.",
        f"therapy_cost: incremental discounted cost of the {' and '.join(THERAPY_CATEGORIES)} "
        "categories. cost_offsets: the comparator's discounted cost minus the strategy's in "
        "every other category (net: costs the therapy adds, such as monitoring, are "
        "subtracted). offsets_credited: the part counted in inc_cost. Costs per patient in "
        f"{cur}.",
        f"price: the product price as written in the scenario ({named}). "
        "product_units: discounted first-infusion product charges per patient (incremental "
        "product cost / price). value_based_price_<wtp>: the price at which "
        "inmb_<wtp> = 0, i.e. price + inmb_<wtp> / product_units (cost is linear in the "
        "price; the same root `cartsim threshold --param costs.car_t.product` finds for "
        "the standard variant). It is the price PER FIRST INFUSION: a re-infusion's product "
        "charge (retreatment_price, costs.car_t.retreatment_product) is held at its value. "
        "value_based_price_per_charge_<wtp>: the one price for EVERY product charge (first "
        "infusions and re-infusions, retreatment_units discounted re-infusion charges per "
        "patient) at which inmb_<wtp> = 0.",
        "inc_cost_mcse: MCSE of the paired per-patient increments (for offset_cap, the "
        "capped amount held at its cohort-mean value). " + ICER_NOTE,
        PAYMENT_NOTE,
    )
    formats = {c: "money" for c in columns
               if c.startswith(("therapy", "cost", "offsets", "inc_cost", "icer", "inmb",
                                "price", "value_based"))}
    formats.update({"retreatment_units": "float", "retreatment_price": "money"})
    formats.update({"icer_status": "text", "variant": "text", "product_units": "float",
                    "inc_qaly": "qaly", "inc_qaly_mcse": "qaly", "years_capped": "int"})
    return [Table("one_time_therapy",
                  "One-time therapy: shared savings, offset cap and value-based prices",
                  columns, tuple(rows), notes, formats)]
