"""Plots of the studies that vary inputs: the sweep (one-way lines, two-way heat map),
the threshold (INMB against the parameter, the root marked) and the scenario forest
plot of `cartsim compare`.

Each function draws only numbers of the folder's tables (sweep, threshold, forest)
and raises PlotSkipped when one is missing or does not fit the plot.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from cartsim.report.folder_reader import FolderTable, ResultsFolder, as_float
from cartsim.report.plots_base import (
    PlotSkipped,
    column_floats,
    legend,
    money,
    money_ticks,
    needs,
    new_figure,
    plain,
    short_money,
    strategy_colours,
)


def _grid_columns(table: FolderTable) -> list[str]:
    """A sweep's parameter columns: those before ``strategy``."""
    return list(table.columns[:table.columns.index("strategy")])


def _last_inmb(table: FolderTable, folder: ResultsFolder) -> tuple[str, float]:
    cols = [c for c in table.columns if c.startswith("inmb_") and not c.endswith("_mcse")]
    if not cols:
        msg = f"{table.name}.csv has no INMB column"
        raise PlotSkipped(msg)
    return cols[-1], float(cols[-1][len("inmb_"):])


def sweep_lines(folder: ResultsFolder) -> Figure:
    """One-way sweep: INMB at each WTP against the parameter, per strategy."""
    (table,) = needs(folder, "sweep")
    grid = _grid_columns(table)
    if len(grid) != 1:
        msg = f"the sweep varies {len(grid)} parameters (the lines show a one-way sweep)"
        raise PlotSkipped(msg)
    strategies = list(dict.fromkeys(str(s) for s in table.column("strategy")))
    colours = strategy_colours(folder, strategies)
    styles = ("-", "--", ":", "-.")
    fig, axes = new_figure()
    ax = axes[0, 0]
    x, names = column_floats(table, grid[0]), table.column("strategy")
    inmb = [c for c in table.columns if c.startswith("inmb_") and not c.endswith("_mcse")]
    for s in strategies:
        mask = np.array([n == s for n in names])
        for j, col in enumerate(inmb):
            ax.plot(x[mask], column_floats(table, col)[mask], marker="o", markersize=4,
                    color=colours[s], linestyle=styles[j % len(styles)],
                    label=f"{plain(folder.label(s))}, WTP {money(float(col[5:]))}")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel(plain(grid[0]))
    ax.set_ylabel(f"Incremental net monetary benefit per patient ({folder.money_unit})")
    money_ticks(ax.yaxis)
    comparator = plain(folder.label(folder.comparator or ""))
    ax.set_title(f"One-way sweep of {plain(grid[0])}: INMB vs {comparator}")
    legend(ax, loc="best")
    return fig


def sweep_heat_map(folder: ResultsFolder) -> Figure:
    """Two-way sweep: INMB at the largest WTP on the grid of both parameters, a panel per
    strategy, each cell labelled with its value."""
    (table,) = needs(folder, "sweep")
    grid = _grid_columns(table)
    if len(grid) != 2:
        msg = f"the sweep varies {len(grid)} parameter(s) (the heat map shows a two-way sweep)"
        raise PlotSkipped(msg)
    col, lam = _last_inmb(table, folder)
    strategies = list(dict.fromkeys(str(s) for s in table.column("strategy")))
    xs = sorted(set(column_floats(table, grid[0]).tolist()))
    ys = sorted(set(column_floats(table, grid[1]).tolist()))
    fig, axes = new_figure(1, len(strategies), width=6.5 * len(strategies), height=5.0)
    for ax, s in zip(axes[0], strategies, strict=True):
        cells = np.full((len(ys), len(xs)), np.nan)
        for rec in table.records():
            if rec["strategy"] == s and rec[col] is not None:
                cells[ys.index(as_float(rec[grid[1]])), xs.index(as_float(rec[grid[0]]))] = \
                    as_float(rec[col])
        top = float(np.nanmax(np.abs(cells))) or 1.0
        image = ax.imshow(cells, cmap="RdBu", vmin=-top, vmax=top, origin="lower",
                          aspect="auto")
        for (i, j), value in np.ndenumerate(cells):
            if np.isfinite(value):
                ax.text(j, i, short_money(value), ha="center", va="center", fontsize=8,
                        color="white" if abs(value) > 0.6 * top else "black")
        ax.set_xticks(range(len(xs)), [_tick(v) for v in xs])
        ax.set_yticks(range(len(ys)), [_tick(v) for v in ys])
        ax.set_xlabel(plain(grid[0]))
        ax.set_ylabel(plain(grid[1]))
        ax.grid(False)
        ax.set_title(f"{plain(folder.label(s))}: INMB at WTP {money(lam)} per QALY")
        bar = fig.colorbar(image, ax=ax)
        bar.set_label(f"INMB per patient ({folder.money_unit}); blue: cost-effective")
        money_ticks(bar.ax.yaxis)
    return fig


def _tick(value: float) -> str:
    """450,000 rather than 4.5e+05; 0.05 as it is."""
    return money(value) if abs(value) >= 1000 else f"{value:.4g}"


def threshold_inmb(folder: ResultsFolder) -> Figure:
    """INMB against the parameter through the search's ends and the root, the root
    marked with its Monte Carlo 95% interval, a line per WTP."""
    (table,) = needs(folder, "threshold")
    recs = table.records()
    fig, axes = new_figure()
    ax = axes[0, 0]
    colours = strategy_colours(folder, [str(r["strategy"]) for r in recs])
    styles = ("-", "--", ":", "-.")
    for j, r in enumerate(recs):
        lo, hi = as_float(r["lower"]), as_float(r["upper"])
        style = styles[j % len(styles)]
        colour = colours[str(r["strategy"])]
        who = f"{plain(folder.label(str(r['strategy'])))}, WTP {money(as_float(r['wtp']))}"
        if r["threshold"] is None:
            ax.plot([lo, hi], [as_float(r["inmb_at_lower"]), as_float(r["inmb_at_upper"])],
                    color=colour, linestyle=style, marker="o", label=f"{who}: no root")
            continue
        root = as_float(r["threshold"])
        ax.plot([lo, root, hi], [as_float(r["inmb_at_lower"]), 0.0, as_float(r["inmb_at_upper"])],
                color=colour, linestyle=style, marker="o", markersize=4, label=who)
        ax.plot([root], [0.0], marker="D", markersize=9, color=colour, markeredgecolor="black",
                zorder=3)
        if r["interval_low"] is not None and r["interval_high"] is not None:
            ax.hlines(0.0, as_float(r["interval_low"]), as_float(r["interval_high"]),
                      color=colour, linewidth=5, alpha=0.5)
        ax.annotate(f"{_value(root, r['unit'])}", (root, 0.0), textcoords="offset points",
                    xytext=(6, 8 + 12 * j), fontsize=8)
    ax.axhline(0, color="black", linewidth=0.8)
    if recs and recs[0]["unit"] == "currency":
        money_ticks(ax.xaxis)
    unit = folder.money_unit if recs and recs[0]["unit"] == "currency" else \
        str(recs[0]["unit"] if recs else "")
    ax.set_xlabel(f"{plain(recs[0]['parameter'] if recs else '')} ({plain(unit)})")
    ax.set_ylabel(f"Incremental net monetary benefit per patient ({folder.money_unit})")
    money_ticks(ax.yaxis)
    ax.set_title("INMB against the parameter; diamond: the threshold (INMB = 0), bar: its "
                 "95% interval", fontsize=10)
    legend(ax, loc="best")
    return fig


def _value(value: float, unit: object) -> str:
    return money(value) if unit == "currency" else f"{value:.4g}"


def forest(folder: ResultsFolder) -> Figure:
    """Each scenario's INMB with its Monte Carlo 95% interval, a panel per WTP."""
    (table,) = needs(folder, "forest")
    wtps = list(dict.fromkeys(column_floats(table, "wtp").tolist()))
    recs = table.records()
    labels = list(dict.fromkeys((str(r["scenario"]), str(r["strategy"])) for r in recs))
    several = len({s for _, s in labels}) > 1
    fig, axes = new_figure(1, len(wtps), width=3.6 * len(wtps) + 2.4,
                           height=max(3.0, 1.4 + 0.42 * len(labels)))
    for k, (ax, lam) in enumerate(zip(axes[0], wtps, strict=True)):
        rows = [r for r in recs if as_float(r["wtp"]) == lam]
        ypos = np.arange(len(rows))
        for y, r in zip(ypos, rows, strict=True):
            if r["inmb_low"] is not None and r["inmb_high"] is not None:
                ax.hlines(y, as_float(r["inmb_low"]), as_float(r["inmb_high"]),
                          color="#1f77b4", linewidth=2)
            ax.plot([as_float(r["inmb"])], [y], marker="s", color="#1f77b4", markersize=6)
        ax.axvline(0, color="black", linewidth=0.8)
        names = [plain(f"{r['scenario']}" + (f" ({folder.label(str(r['strategy']))})"
                                              if several else "")) for r in rows]
        ax.set_yticks(ypos, names if k == 0 else [""] * len(rows))
        ax.invert_yaxis()
        ax.set_title(f"WTP {money(lam)} per QALY")
        ax.set_xlabel(f"INMB per patient ({folder.money_unit})")
        money_ticks(ax.xaxis)
    comparator = plain(folder.label(folder.comparator or ""))
    fig.suptitle(f"INMB of each scenario vs {comparator} (square: estimate; line: +/- 1.96 "
                 "MCSE); right of 0: cost-effective", fontsize=10)
    return fig
