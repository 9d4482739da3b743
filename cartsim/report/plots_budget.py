"""The plot of a `cartsim budget` folder: yearly spend of the patients newly treated in
the current and the new world, and the budget impact (with its PSA interval when the
folder has one). Draws only from ``budget_summary``; PlotSkipped without it."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from cartsim.report.folder_reader import ResultsFolder
from cartsim.report.plots_base import PALETTE, column_floats, legend, money_ticks, needs, new_figure


def budget_impact(folder: ResultsFolder) -> Figure:
    """Bars of current and new spend by year; the impact as a line (PSA band if any)."""
    (table,) = needs(folder, "budget_summary")
    years = column_floats(table, "year")
    fig, axes = new_figure()
    ax = axes[0, 0]
    width = 0.38
    ax.bar(years - width / 2, column_floats(table, "current"), width, color=PALETTE[0],
           label="current (comparator)")
    ax.bar(years + width / 2, column_floats(table, "new"), width, color=PALETTE[1],
           label="new (strategy mix)")
    ax.plot(years, column_floats(table, "impact"), color="black", marker="o", linewidth=1.6,
            label="budget impact")
    if "impact_low" in table.columns:
        low, high = column_floats(table, "impact_low"), column_floats(table, "impact_high")
        ax.fill_between(years, low, high, color="grey", alpha=0.3,
                        label="impact, 95% PSA interval")
    ax.axhline(0.0, color="black", linewidth=0.6)
    ax.set_xticks(np.asarray(years))
    ax.set_xlabel("Year")
    ax.set_ylabel(f"Undiscounted spend per year ({folder.money_unit})")
    money_ticks(ax.yaxis)
    ax.set_title("Budget impact of the patients newly treated")
    legend(ax, loc="upper left")
    return fig
