"""The tables of ``cartsim budget``: eligible population, uptake, yearly budget by world,
strategy and cost category (with per member per month), and a yearly summary (with PSA
intervals when asked for)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from cartsim.analysis.budget import per_member_per_month
from cartsim.params.population import FIGURES
from cartsim.table import Table
from cartsim.vocabulary import COST_CATEGORIES

if TYPE_CHECKING:
    from cartsim.study.budget import BudgetResult

BUDGET_NOTE = (
    "Undiscounted spend per calendar year (ISPOR 2014 budget impact good practice) of the "
    "eligible patients newly treated in years 1..Y: 'current' gives them the comparator, "
    "'new' splits them between the new strategies by the mix, 'impact' is new minus "
    "current. A patient treated in year y costs in year Y the strategy's mean cost per "
    "patient who started it in year Y - y since the start (the simulated cohort's curve by "
    "disease, the dead costing nothing). Patients not newly treated cost the same in both "
    "worlds and are left out. pmpm: amount / (members x 12).")


def _money(cols: tuple[str, ...]) -> dict[str, str]:
    return dict.fromkeys(cols, "money")


def population_table(res: BudgetResult) -> Table:
    inp = res.inputs
    columns = ("group", "population_name", "population", *FIGURES, "eligible",
               *[f"{f.split('_')[0]}_source" for f in FIGURES])
    rows = []
    for g in inp.groups:
        figs = [g.figures[f] for f in FIGURES]
        rows.append((g.group, inp.population_name, inp.population,
                     *[f.value if f is not None else None for f in figs], g.eligible,
                     *[f"{f.source} ({f.status})" if f is not None else "eligible given"
                       for f in figs]))
    notes = ("eligible = population x prevalence_per_100k / 100,000 x refractory_share x "
             "eligible_share (or as given in [budget.<group>] eligible). Sources: "
             "cartsim/data/budget_population.toml (status U: literature not re-read for this "
             f"release; E: analyst estimate) unless replaced in [budget]. Population: "
             f"{inp.population_source}.",)
    return Table("budget_population", "Eligible population by disease", columns,
                 tuple(rows), notes,
                 {"population": "int", "eligible": "float", "prevalence_per_100k": "float",
                  "refractory_share": "prob", "eligible_share": "prob",
                  **{c: "text" for c in columns if c.endswith("_source")}})


def uptake_table(res: BudgetResult) -> Table:
    inp = res.inputs
    rows = []
    for y in range(inp.years):
        for g in inp.groups:
            t = res.treated[g.group]
            for s, share in inp.mix.items():
                rows.append((y + 1, g.group, s, inp.uptake[y], share, float(share * t[y]),
                             float(share * t[:y + 1].sum())))
    return Table("budget_uptake", "Patients newly treated by year, disease and strategy",
                 ("year", "group", "strategy", "uptake", "mix_share", "newly_treated",
                  "cumulative_treated"), tuple(rows),
                 (f"uptake: share of the eligible population newly treated that year "
                  f"({inp.uptake_source}); mix_share: the strategy's share of them.",),
                 {"uptake": "prob", "mix_share": "prob", "newly_treated": "float",
                  "cumulative_treated": "float"})


def budget_table(res: BudgetResult, currency: str) -> Table:
    members = res.inputs.members
    worlds = [("current", res.scenario.run.comparator, res.current),
              *[("new", s, x) for s, x in res.new.items()],
              ("new", "all", sum(res.new.values(), np.zeros_like(res.current))),
              ("impact", "all", sum(res.new.values(), np.zeros_like(res.current))
               - res.current)]
    rows = []
    for y in range(res.inputs.years):
        for world, strategy, spend in worlds:
            amounts = [*spend[y].tolist(), math.fsum(spend[y].tolist())]
            pmpm = per_member_per_month(amounts, members).tolist()
            for cat, amount, per in zip((*COST_CATEGORIES, "total"), amounts, pmpm,
                                        strict=True):
                rows.append((y + 1, world, strategy, cat, amount, per))
    columns = ("year", "world", "strategy", "category", "amount", "pmpm")
    return Table("budget", f"Yearly budget by world, strategy and cost category ({currency}, "
                 "undiscounted)", columns, tuple(rows), (BUDGET_NOTE,),
                 {"amount": "money", "pmpm": "rate", "world": "text"})


def summary_table(res: BudgetResult, currency: str) -> Table:
    members = res.inputs.members
    current = res.current.sum(axis=1)
    new = sum(res.new.values(), np.zeros_like(res.current)).sum(axis=1)
    impact = res.impact
    treated = sum(res.treated.values(), np.zeros(res.inputs.years))
    columns: tuple[str, ...] = ("year", "newly_treated", "current", "new", "impact",
                                "cumulative_impact", "impact_pmpm")
    notes: tuple[str, ...] = (BUDGET_NOTE,)
    rows = []
    cumulative = np.cumsum(impact)
    pmpm = per_member_per_month(impact, members)
    for y in range(res.inputs.years):
        rows.append([y + 1, float(treated[y]), float(current[y]), float(new[y]),
                     float(impact[y]), float(cumulative[y]), float(pmpm[y])])
    if res.impact_draws is not None:
        d = res.impact_draws
        low, high = np.quantile(d, [0.025, 0.975], axis=0)
        columns += ("impact_psa_mean", "impact_low", "impact_high")
        for y, row in enumerate(rows):
            row += [float(d[:, y].mean()), float(low[y]), float(high[y])]
        notes += (f"impact_psa_mean, impact_low, impact_high: mean and 2.5%/97.5% quantiles "
                  f"(numpy 'linear') of the yearly impact over {d.shape[0]} PSA draws (model "
                  "parameters drawn as in cartsim psa; the population figures held fixed).",)
    return Table("budget_summary", f"Budget impact by year ({currency}, undiscounted)",
                 columns, tuple(tuple(r) for r in rows), notes,
                 {**_money(columns[2:]), "newly_treated": "float", "year": "int",
                  "impact_pmpm": "rate"})


def budget_tables(res: BudgetResult) -> list[Table]:
    run = res.scenario.run
    currency = f"{run.reported_currency} {run.reported_price_year}"
    return [summary_table(res, currency), budget_table(res, currency),
            population_table(res), uptake_table(res)]
