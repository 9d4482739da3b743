"""Plots of uncertainty: the cost-effectiveness plane, CEAC and CEAF, EVPPI by
parameter (from a `cartsim psa` folder) and the tornado (from `cartsim dsa`).

Each function takes a results folder and returns a Figure, drawing only from
the folder's tables; it raises PlotSkipped when a table it needs is missing.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from cartsim.report.folder_reader import ResultsFolder, as_float
from cartsim.report.plots_base import (
    TOP_PARAMETERS,
    PlotSkipped,
    column_floats,
    legend,
    legend_below,
    money,
    money_ticks,
    needs,
    new_figure,
    other_strategies,
    plain,
    strategy_colours,
)

TORNADO_LOW, TORNADO_HIGH = "#4c72b0", "#dd8452"
_WTP_STYLES = (":", "--", "-.", (0, (5, 1, 1, 1)))


def ce_plane(folder: ResultsFolder) -> Figure:
    """Incremental cost against incremental QALYs per draw, with WTP lines."""
    (psa,) = needs(folder, "psa")
    comparator = folder.comparator
    present = [c[len("cost_"):] for c in psa.columns if c.startswith("cost_")]
    if comparator not in present:
        msg = f"psa.csv has no columns for the comparator {comparator!r}"
        raise PlotSkipped(msg)
    colours = strategy_colours(folder, present)
    fig, axes = new_figure()
    ax = axes[0, 0]
    ref_cost, ref_qaly = column_floats(psa, f"cost_{comparator}"), column_floats(
        psa, f"qaly_{comparator}")
    xs = []
    for s in other_strategies(folder, present):
        dq = column_floats(psa, f"qaly_{s}") - ref_qaly
        dc = column_floats(psa, f"cost_{s}") - ref_cost
        xs.append(dq)
        ax.scatter(dq, dc, s=12, alpha=0.45, color=colours[s], linewidths=0,
                   label=f"{plain(folder.label(s))}: each draw")
        ax.scatter([dq.mean()], [dc.mean()], s=90, marker="X", color=colours[s],
                   edgecolors="black", linewidths=0.8, zorder=3, label="mean over draws")
    span = np.concatenate([*xs, [0.0]])
    lo, hi = float(np.nanmin(span)), float(np.nanmax(span))
    pad = 0.05 * (hi - lo or 1.0)
    q = np.array([min(lo - pad, 0.0), max(hi + pad, 0.0)])
    for i, lam in enumerate(folder.wtp):
        ax.plot(q, lam * q, color="0.35", linewidth=1, linestyle=_WTP_STYLES[i % 4],
                label=f"WTP {money(lam)} {folder.money_unit} per QALY")
    ax.axhline(0, color="black", linewidth=0.6)
    ax.axvline(0, color="black", linewidth=0.6)
    ax.set_xlim(*q)
    ax.set_xlabel("Incremental QALYs per patient (discounted) vs "
                  f"{plain(folder.label(comparator))}")
    ax.set_ylabel(f"Incremental cost per patient ({folder.money_unit}, discounted)")
    money_ticks(ax.yaxis)
    ax.set_title("Cost-effectiveness plane (points below a WTP line are cost-effective at it)")
    legend(ax, loc="best")
    return fig


def ceac_ceaf(folder: ResultsFolder) -> Figure:
    """Probability each strategy is cost-effective against WTP, and the frontier."""
    (ceac,) = needs(folder, "ceac")
    wtp, strategy = column_floats(ceac, "wtp"), ceac.column("strategy")
    prob = column_floats(ceac, "probability_cost_effective")
    frontier = np.array([bool(v) for v in ceac.column("on_frontier")])
    names = list(dict.fromkeys(str(s) for s in strategy))
    colours = strategy_colours(folder, names)
    fig, axes = new_figure()
    ax = axes[0, 0]
    for s in names:
        mask = np.array([x == s for x in strategy])
        ax.plot(wtp[mask], prob[mask], color=colours[s], linewidth=1.6,
                label=f"CEAC: {plain(folder.label(s))}")
    order = np.argsort(wtp[frontier], kind="stable")
    ax.plot(wtp[frontier][order], prob[frontier][order], color="black", linewidth=5, alpha=0.18,
            label="CEAF: strategy with the highest expected net benefit")
    for lam in folder.wtp:
        ax.axvline(lam, color="0.5", linewidth=0.8, linestyle=":")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(left=0)
    ax.set_xlabel(f"Willingness to pay ({folder.money_unit} per QALY gained)")
    ax.set_ylabel("Probability cost-effective (share of PSA draws)")
    money_ticks(ax.xaxis)
    ax.set_title("Cost-effectiveness acceptability curves (CEAC) and frontier (CEAF)")
    legend(ax, loc="best")
    return fig


def evppi_bars(folder: ResultsFolder) -> Figure:
    """EVPPI per patient of the most valuable parameters, at each WTP: the table's
    first rows (it is sorted), leaving out parameters whose EVPPI is 0 at every WTP."""
    (evppi,) = needs(folder, "evppi")
    wtp_cols = [c for c in evppi.columns if c.startswith("evppi_")]
    values = np.column_stack([column_floats(evppi, c) for c in wtp_cols])
    names = [str(p) for p in evppi.column("parameter")]
    top = np.flatnonzero(np.nanmax(values, axis=1) > 0.0)[:TOP_PARAMETERS]
    if top.size == 0:
        msg = "every parameter's EVPPI in evppi.csv is 0"
        raise PlotSkipped(msg)
    fig, axes = new_figure(height=max(3.5, 1.2 + 0.38 * len(top)))
    ax = axes[0, 0]
    width = 0.8 / len(wtp_cols)
    ypos = np.arange(len(top))
    for j, col in enumerate(wtp_cols):
        ax.barh(ypos + (j - (len(wtp_cols) - 1) / 2) * width, values[top, j], height=width,
                label=f"WTP {money(float(col[len('evppi_'):]))} {folder.money_unit} per QALY")
    ax.set_yticks(ypos, [plain(names[i]) for i in top])
    ax.invert_yaxis()
    ax.set_xlabel(f"EVPPI per patient ({folder.money_unit})")
    ax.set_ylabel("Parameter")
    money_ticks(ax.xaxis)
    ax.set_title("Expected value of partial perfect information (top "
                 f"{len(top)} non-zero parameters)")
    legend_below(fig, ax.get_legend_handles_labels()[0])
    return fig


def tornado(folder: ResultsFolder) -> Figure:
    """One-way sensitivity: INMB at each parameter's low and high value."""
    (table,) = needs(folder, "tornado")
    recs = sorted(table.records(), key=lambda r: as_float(r["rank"]))
    strategies = list(dict.fromkeys(str(r["strategy"]) for r in recs))
    fig, axes = new_figure(1, len(strategies), width=10.0 * len(strategies),
                           height=max(4.0, 2.0 + 0.36 * min(len(recs), TOP_PARAMETERS)))
    for ax, s in zip(axes[0], strategies, strict=True):
        rows = [r for r in recs if r["strategy"] == s][:TOP_PARAMETERS]
        base = as_float(rows[0]["inmb_base"])
        ypos = np.arange(len(rows))
        low = np.array([as_float(r["inmb_low"]) for r in rows])
        high = np.array([as_float(r["inmb_high"]) for r in rows])
        ax.barh(ypos, low - base, left=base, color=TORNADO_LOW)
        ax.barh(ypos, high - base, left=base, color=TORNADO_HIGH)
        ax.axvline(base, color="black", linewidth=1)
        labels = [f"{r['parameter']} ({_number(r['low'])} to {_number(r['high'])} "
                  f"{_unit(r['unit'], folder)})" for r in rows]
        ax.set_yticks(ypos, [plain(t) for t in labels])
        ax.invert_yaxis()
        ax.set_ylabel("Parameter (low to high value)")
        lam = as_float(rows[0]["wtp"])
        ax.set_xlabel(f"Incremental net monetary benefit per patient at WTP {money(lam)} per "
                      f"QALY ({folder.money_unit})")
        money_ticks(ax.xaxis)
        # Two lines: with long strategy labels one line ran off the figure.
        ax.set_title(f"Tornado: {plain(folder.label(s))} vs "
                     f"{plain(folder.label(folder.comparator or ''))}\n(base case INMB "
                     f"{money(base)})")
    legend_below(fig, [Patch(color=TORNADO_LOW, label="parameter at its low value"),
                       Patch(color=TORNADO_HIGH, label="parameter at its high value"),
                       Line2D([], [], color="black", label="base case")])
    return fig


def _number(value: object) -> str:
    x = as_float(value)
    return money(x) if abs(x) >= 1000 else f"{x:.4g}"


def _unit(unit: object, folder: ResultsFolder) -> str:
    return folder.money_unit if unit == "currency" else str(unit or "")
