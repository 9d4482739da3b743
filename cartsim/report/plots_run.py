"""Plots of one simulation (a `cartsim run` folder): state occupancy over time,
cumulative discounted cost with the break-even point, survival and drug-free
remission curves, and benefits gained against harms added per 1,000 patients.

Each function takes a results folder and returns a Figure, drawing only from
the folder's tables; it raises PlotSkipped when a table it needs is missing.
"""

from __future__ import annotations

import re

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from cartsim.report.folder_reader import FolderTable, ResultsFolder, as_float
from cartsim.report.plots_base import (
    YEARS_LABEL,
    PlotSkipped,
    column_floats,
    distinct_looks,
    legend,
    legend_below,
    money_ticks,
    needs,
    new_figure,
    other_strategies,
    plain,
    strategy_colours,
)
from cartsim.vocabulary import ALIVE_ROW, DEAD_ROW, REMISSION_ROW

Z95 = 1.959963984540054


def _strategies_in(table: FolderTable, folder: ResultsFolder) -> list[str]:
    present = list(dict.fromkeys(str(s) for s in table.column("strategy")))
    return [s for s in folder.strategies if s in present] + [
        s for s in present if s not in folder.strategies]


def _curve(table: FolderTable, strategy: str, state: str) -> tuple[np.ndarray, ...]:
    """Time, share and standard error of one state's rows, in time order."""
    recs = [r for r in table.records() if r["strategy"] == strategy and r["state"] == state]
    t = np.array([as_float(r["time"]) for r in recs])
    order = np.argsort(t, kind="stable")
    share = np.array([as_float(r["share"]) for r in recs])[order]
    se = np.array([as_float(r["share_se"] or 0.0) for r in recs])[order]
    return t[order], share, se


def state_occupancy(folder: ResultsFolder) -> Figure:
    """Stacked shares of patients in each state (and dead) over time, per strategy."""
    (table,) = needs(folder, "state_occupancy")
    strategies = _strategies_in(table, folder)
    states: list[str] = []
    for r in table.records():
        if not r["aggregate"] and r["state"] != DEAD_ROW and r["state"] not in states:
            states.append(str(r["state"]))
    # No two states look alike, however many (colour, then hatch); dead is grey.
    looks = dict(zip(states, distinct_looks(len(states)), strict=True)) | {DEAD_ROW: ("0.8", "")}
    fig, axes = new_figure(len(strategies), 1, height=3.2 * len(strategies) + 0.6)
    for ax, s in zip(axes[:, 0], strategies, strict=True):
        own = [st for st in [*states, DEAD_ROW]
               if any(r["strategy"] == s and r["state"] == st for r in table.records())]
        curves = [_curve(table, s, st) for st in own]
        layers = ax.stackplot(curves[0][0], *[c[1] for c in curves],
                              colors=[looks[st][0] for st in own],
                              labels=[plain(st.replace("_", " ")) for st in own], linewidth=0)
        for layer, st in zip(layers, own, strict=True):
            if looks[st][1]:
                layer.set_hatch(looks[st][1])
                layer.set_edgecolor("white")
        ax.set_ylim(0, 1)
        ax.set_xlim(0, float(curves[0][0].max()) or 1.0)
        ax.set_ylabel("Share of patients")
        ax.set_title(f"State occupancy: {plain(folder.label(s))}")
        legend(ax, loc="center left", bbox_to_anchor=(1.01, 0.5))
    axes[-1, 0].set_xlabel(YEARS_LABEL)
    return fig


def cumulative_cost(folder: ResultsFolder) -> Figure:
    """Mean cumulative discounted cost per patient over time, with break-even points."""
    (table,) = needs(folder, "cost_over_time")
    prefix = "cumulative_cost_"
    names = [c[len(prefix):] for c in table.columns if c.startswith(prefix)]
    colours = strategy_colours(folder, names)
    t = column_floats(table, "time")
    breaks = _break_even(folder)
    fig, axes = new_figure()
    ax = axes[0, 0]
    for s in names:
        ax.plot(t, column_floats(table, prefix + s), color=colours[s], linewidth=1.8,
                label=plain(folder.label(s)))
    for s in other_strategies(folder, names):
        years = breaks.get(s)
        if years is None:
            continue
        cost = float(np.interp(years, t, column_floats(table, prefix + s)))
        ax.axvline(years, color=colours[s], linewidth=0.8, linestyle="--")
        ax.plot([years], [cost], marker="o", markersize=8, color=colours[s],
                markeredgecolor="black", linestyle="none",
                label=f"break-even: {plain(folder.label(s))} after {years:.1f} years")
    missing = [s for s in other_strategies(folder, names) if s not in breaks]
    ax.set_xlabel(YEARS_LABEL)
    ax.set_ylabel(f"Cumulative discounted cost per patient ({folder.money_unit})")
    money_ticks(ax.yaxis)
    ax.set_xlim(0, float(t.max()) or 1.0)
    ax.set_ylim(bottom=0)
    note = "" if not missing else " (no break-even within the horizon)" if "summary" in \
        folder.tables else " (summary.csv absent: break-even not marked)"
    ax.set_title(f"Cumulative discounted cost per patient{note}")
    legend(ax, loc="lower right")
    return fig


def _break_even(folder: ResultsFolder) -> dict[str, float]:
    summary = folder.tables.get("summary")
    if summary is None or "break_even_years" not in summary.columns:
        return {}
    return {str(r["strategy"]): as_float(r["break_even_years"])
            for r in summary.records() if r["break_even_years"] is not None}


def remission_survival(folder: ResultsFolder) -> Figure:
    """Share alive and share in drug-free remission over time, with 95% bands, drawn as
    steps: each value is the share at a time point of the grid and holds until the next
    (a line would ramp remission up from 0 at time 0, before anyone can be in it)."""
    (table,) = needs(folder, "state_occupancy")
    strategies = _strategies_in(table, folder)
    colours = strategy_colours(folder, strategies)
    fig, axes = new_figure()
    ax = axes[0, 0]
    first: list[str] = []
    for s in strategies:
        for state, style, what in ((ALIVE_ROW, "-", "alive"),
                                   (REMISSION_ROW, "--", "in drug-free remission")):
            t, p, se = _curve(table, s, state)
            if not t.size or (state == REMISSION_ROW and not p.any()):
                continue
            ax.step(t, p, where="post", color=colours[s], linestyle=style, linewidth=1.8,
                    label=f"{plain(folder.label(s))}: {what}")
            ax.fill_between(t, np.clip(p - Z95 * se, 0, 1), np.clip(p + Z95 * se, 0, 1),
                            step="post", color=colours[s], alpha=0.15, linewidth=0)
            if state == REMISSION_ROW:
                first.append(f"{plain(folder.label(s))} at {t[np.argmax(p > 0)]:g} years")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(left=0)
    ax.set_xlabel(YEARS_LABEL)
    ax.set_ylabel("Proportion of patients (95% Monte Carlo band)")
    title = "Survival (solid) and drug-free remission (dashed) over time"
    if first:  # remission needs an infusion and a response first: say when it appears
        title += ("\nRemission first seen (infusion + response) " + "; ".join(first))
    ax.set_title(title)
    legend(ax, loc="upper right")
    return fig


FAVOURS_STRATEGY, FAVOURS_COMPARATOR = "#1f77b4", "#ff7f0e"


def benefit_risk(folder: ResultsFolder) -> Figure:
    """Differences per 1,000 patients treated (deaths, cancers, infections, flares, added
    harms), coloured by the arm each difference favours."""
    (table,) = needs(folder, "benefit_risk")
    recs = [r for r in table.records() if r["unit"] == "per 1,000 patients"]
    strategies = list(dict.fromkeys(str(r["strategy"]) for r in recs))
    if not strategies:
        msg = "benefit_risk.csv has no rows per 1,000 patients"
        raise PlotSkipped(msg)
    heights = [len([r for r in recs if r["strategy"] == s]) for s in strategies]
    fig, axes = new_figure(1, len(strategies), width=8.0 * len(strategies),
                           height=max(3.5, 1.4 + 0.3 * max(heights)))
    # Colour says whom a difference favours, nothing else (blue/orange: colour-blind safe).
    colour = {"strategy": FAVOURS_STRATEGY, "comparator": FAVOURS_COMPARATOR,
              "neither": "#9e9e9e"}
    for ax, s in zip(axes[0], strategies, strict=True):
        rows = [r for r in recs if r["strategy"] == s]
        diff = np.array([as_float(r["difference"]) for r in rows])
        se = np.array([as_float(r["difference_se"] or 0.0) for r in rows])
        ypos = np.arange(len(rows))
        ax.barh(ypos, diff, xerr=Z95 * se, color=[colour[str(r["favours"])] for r in rows],
                error_kw={"linewidth": 0.8})
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_yticks(ypos, [plain(_outcome_label(r["outcome"])) for r in rows])
        ax.invert_yaxis()
        comparator = folder.label(str(rows[0]["comparator"]))
        ax.set_xlabel(f"Difference per 1,000 patients treated: {plain(folder.label(s))}\n"
                      f"minus {plain(comparator)} (error bars: 95% interval)")
        ax.set_title("All-cause deaths, outcomes of both arms, and added harms")
    shown = {str(r["favours"]) for r in recs}
    names = " / ".join(plain(folder.label(s)) for s in strategies)
    words = {"strategy": f"favours {names}",
             "comparator": f"favours {plain(folder.label(str(recs[0]['comparator'])))}",
             "neither": "no difference"}
    legend_below(fig, [Patch(color=colour[k], label=words[k])
                       for k in ("strategy", "comparator", "neither") if k in shown])
    return fig


def _outcome_label(outcome: object) -> str:
    text = re.sub(r"grade_(\d)_(\d)", r"grade \1-\2", str(outcome))
    text = text.replace("_", " ")
    return re.sub(r"\b(crs|icans|licats)\b", lambda m: m.group(1).upper(), text)
