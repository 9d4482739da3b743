"""Plots of the value of information and of the PSA's convergence (from a `cartsim psa`
folder): EVPI against WTP, the information-rank plot, expected incremental benefit
against WTP and the running mean of INMB by draw.

Each function draws only numbers of the folder's tables (evpi, info_rank, inmb_curve,
psa_convergence) and raises PlotSkipped when one is missing.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from cartsim.report.folder_reader import FolderTable, ResultsFolder
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
    plain,
    strategy_colours,
)


def _wtp_lines(ax: Axes, folder: ResultsFolder) -> None:
    for lam in folder.wtp:
        ax.axvline(lam, color="0.5", linewidth=0.8, linestyle=":")


def evpi_curve(folder: ResultsFolder) -> Figure:
    """EVPI per patient (and in the population, when the folder has it) against WTP."""
    (evpi,) = needs(folder, "evpi")
    wtp = column_floats(evpi, "wtp")
    population = "evpi_population" in evpi.columns
    fig, axes = new_figure(1, 2 if population else 1, width=12.0 if population else 8.0)
    panels = [("evpi_per_patient", "per patient")]
    if population:
        panels.append(("evpi_population", "in the population"))
    for ax, (col, where) in zip(axes[0], panels, strict=True):
        ax.plot(wtp, column_floats(evpi, col), color="#1f77b4", linewidth=1.8)
        _wtp_lines(ax, folder)
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
        ax.set_xlabel(f"Willingness to pay ({folder.money_unit} per QALY gained)")
        ax.set_ylabel(f"EVPI {where} ({folder.money_unit})")
        money_ticks(ax.xaxis)
        money_ticks(ax.yaxis)
        ax.set_title(f"Expected value of perfect information {where}")
    return fig


def info_rank(folder: ResultsFolder) -> Figure:
    """EVPPI as a share of EVPI per parameter at each WTP, in evppi.csv's order, only the
    parameters with a non-zero share somewhere."""
    (table,) = needs(folder, "info_rank")
    names = list(dict.fromkeys(str(p) for p in table.column("parameter")))
    wtps = list(dict.fromkeys(column_floats(table, "wtp").tolist()))
    share = column_floats(table, "share_of_evpi").reshape(len(names), len(wtps))
    keep = np.flatnonzero(np.nanmax(np.nan_to_num(share, nan=0.0), axis=1) > 0.0)
    keep = keep[:TOP_PARAMETERS]
    if keep.size == 0:
        msg = "no parameter's EVPPI is a non-zero share of the EVPI in info_rank.csv"
        raise PlotSkipped(msg)
    fig, axes = new_figure(height=max(3.5, 1.4 + 0.38 * len(keep)))
    ax = axes[0, 0]
    width = 0.8 / len(wtps)
    ypos = np.arange(len(keep))
    for j, lam in enumerate(wtps):
        ax.barh(ypos + (j - (len(wtps) - 1) / 2) * width, 100.0 * share[keep, j], height=width,
                label=f"WTP {money(lam)} {folder.money_unit} per QALY")
    ax.set_yticks(ypos, [plain(names[i]) for i in keep])
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("EVPPI as a percentage of the EVPI at the same WTP")
    ax.set_ylabel("Parameter")
    ax.set_title(f"Information-rank plot (top {len(keep)} parameters with a non-zero share)")
    legend_below(fig, ax.get_legend_handles_labels()[0])
    return fig


def _by_strategy(table: FolderTable) -> list[str]:
    return list(dict.fromkeys(str(s) for s in table.column("strategy")))


def inmb_curve(folder: ResultsFolder) -> Figure:
    """Expected INMB per patient against WTP with the draws' 95% interval."""
    (table,) = needs(folder, "inmb_curve")
    strategies = _by_strategy(table)
    colours = strategy_colours(folder, strategies)
    fig, axes = new_figure()
    ax = axes[0, 0]
    names = table.column("strategy")
    for s in strategies:
        mask = np.array([n == s for n in names])
        wtp = column_floats(table, "wtp")[mask]
        ax.fill_between(wtp, column_floats(table, "inmb_low")[mask],
                        column_floats(table, "inmb_high")[mask], color=colours[s], alpha=0.18,
                        linewidth=0, label=f"{plain(folder.label(s))}: 95% of the draws")
        ax.plot(wtp, column_floats(table, "expected_inmb")[mask], color=colours[s],
                linewidth=1.8, label=f"{plain(folder.label(s))}: expected INMB")
    ax.axhline(0, color="black", linewidth=0.8)
    _wtp_lines(ax, folder)
    ax.set_xlim(left=0)
    ax.set_xlabel(f"Willingness to pay ({folder.money_unit} per QALY gained)")
    ax.set_ylabel(f"Incremental net monetary benefit per patient ({folder.money_unit})")
    money_ticks(ax.xaxis)
    money_ticks(ax.yaxis)
    comparator = plain(folder.label(folder.comparator or ""))
    ax.set_title(f"Expected incremental benefit vs {comparator} (above 0: cost-effective)")
    legend(ax, loc="best")
    return fig


def convergence(folder: ResultsFolder) -> Figure:
    """Running mean of INMB by draw with its +/- 1.96 MCSE band, one panel per WTP."""
    (table,) = needs(folder, "psa_convergence")
    strategies = _by_strategy(table)
    colours = strategy_colours(folder, strategies)
    wtps = list(dict.fromkeys(column_floats(table, "wtp").tolist()))
    fig, axes = new_figure(1, len(wtps), width=4.2 * len(wtps) + 1.0, height=4.2)
    names, lams = table.column("strategy"), column_floats(table, "wtp")
    for ax, lam in zip(axes[0], wtps, strict=True):
        for s in strategies:
            mask = np.array([n == s for n in names]) & (lams == lam)
            draws = column_floats(table, "draws")[mask]
            ax.fill_between(draws, column_floats(table, "band_low")[mask],
                            column_floats(table, "band_high")[mask], color=colours[s],
                            alpha=0.2, linewidth=0)
            ax.plot(draws, column_floats(table, "mean_inmb")[mask], color=colours[s],
                    linewidth=1.4, label=plain(folder.label(s)))
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xlim(left=1)
        ax.set_xlabel("Draws")
        ax.set_title(f"WTP {money(lam)} per QALY")
        money_ticks(ax.yaxis)
    axes[0, 0].set_ylabel(f"Running mean INMB per patient ({folder.money_unit})")
    legend_below(fig, axes[0, 0].get_legend_handles_labels()[0])
    return fig
