"""What every plot shares: a fixed style, figures without pyplot, axis formats
that name units, currency and price year, and byte-identical PNG and SVG files.

Figures are :class:`matplotlib.figure.Figure` objects rendered by the Agg (PNG)
and SVG backends directly: no pyplot, so no global figure registry and no GUI
backend. Drawing happens inside a style context that starts from matplotlib's
defaults, so a user's matplotlibrc cannot change the files; PNG metadata carry
no software version and SVG metadata no date, and SVG ids are salted with a
constant, so the same tables always give the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import matplotlib.style
import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from cartsim.report.folder_reader import FolderTable, ResultsFolder, as_float

DPI = 110
STYLE = {
    "font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "legend.fontsize": 9,
    "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False,
    "svg.hashsalt": "cartsim", "svg.fonttype": "path", "path.simplify": True,
}
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
           "#17becf", "#bcbd22", "#7f7f7f")
TABLE_SOURCE = {**dict.fromkeys(("psa", "ceac", "evpi", "evppi", "info_rank", "inmb_curve",
                                  "psa_convergence"), "cartsim psa"),
                "tornado": "cartsim dsa", "sweep": "cartsim sweep",
                "threshold": "cartsim threshold", "forest": "cartsim compare"}
YEARS_LABEL = "Years since the start of treatment"
TOP_PARAMETERS = 15
"""Most parameters a bar plot shows (tornado, EVPPI, info-rank), largest first."""


class PlotSkipped(Exception):
    """A plot that this folder has no data for; the message says why."""


@contextmanager
def plot_style() -> Iterator[None]:
    """Matplotlib defaults plus the report's style, whatever the user's matplotlibrc."""
    with matplotlib.style.context(["default", STYLE]):
        yield


def needs(folder: ResultsFolder, *names: str) -> tuple[FolderTable, ...]:
    """The named tables, or PlotSkipped naming the first one missing or empty."""
    found = []
    for name in names:
        table = folder.tables.get(name)
        source = TABLE_SOURCE.get(name, "cartsim run")
        if table is None:
            msg = f"needs {name}.csv, which this folder does not have (made by {source})"
            raise PlotSkipped(msg)
        if not table.rows:
            msg = f"{name}.csv has no rows"
            raise PlotSkipped(msg)
        found.append(table)
    return tuple(found)


def new_figure(nrows: int = 1, ncols: int = 1, *, width: float = 8.0,
               height: float = 5.0) -> tuple[Figure, np.ndarray]:
    """A figure and its axes (always a 2-D array), laid out without pyplot."""
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def plain(text: object) -> str:
    """Text shown literally: a '$' in a label must not start matplotlib mathtext."""
    return str(text).replace("$", r"\$")


def money(value: float) -> str:
    """A money amount for labels: thousands separators, no decimals."""
    return f"{value:,.0f}"


def short_money(value: float) -> str:
    """A money amount for tick labels: 750, 7.5k, 250k, 1.5M (the axis names the currency)."""
    size = abs(value)
    if size >= 1e6:
        return f"{value / 1e6:.4g}M"
    if size >= 1e3:
        return f"{value / 1e3:.4g}k"
    return f"{value:.4g}"


def money_ticks(axis: Axis) -> None:
    """Short money tick labels (k = thousand, M = million) on an x or y axis."""
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: short_money(v)))


def legend_below(fig: Figure, handles: Sequence[Artist], ncol: int = 3) -> None:
    """One legend under the whole figure, where it cannot hide bars or points."""
    fig.legend(handles=handles, frameon=False, loc="outside lower center", ncol=ncol)


def strategy_colours(folder: ResultsFolder, names: Sequence[str]) -> dict[str, str]:
    """One colour per strategy, stable across plots (scenario order first)."""
    order = list(folder.strategies) + [n for n in names if n not in folder.strategies]
    return {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(order)}


HATCHES = ("", "///", "...", "xxx", "\\\\\\", "ooo")


def _grey(colour: str) -> bool:
    return len({colour[1:3], colour[3:5], colour[5:7]}) == 1


def distinct_looks(n: int) -> list[tuple[str, str]]:
    """``n`` (colour, hatch) pairs, no two alike and none grey (grey means dead): the
    palette for up to 9, else the tab20, tab20b and tab20c colour maps without their
    greys (54 colours), then those again with a hatch for each further round.

    >>> len(set(distinct_looks(200))) == 200
    True
    """
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    colours = [c for c in PALETTE if not _grey(c)]
    if n > len(colours):
        maps = [to_hex(c) for name in ("tab20", "tab20b", "tab20c")
                for c in colormaps[name].colors]  # type: ignore[attr-defined]
        colours = [c for c in dict.fromkeys(maps) if not _grey(c)]
    return [(colours[i % len(colours)], HATCHES[(i // len(colours)) % len(HATCHES)]
             + "/" * (i // (len(colours) * len(HATCHES)))) for i in range(n)]


def legend(ax: Axes, **kwargs: Any) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False, **kwargs)


def figure_files(fig: Figure) -> tuple[bytes, bytes]:
    """The figure as PNG and SVG bytes, identical for identical figures."""
    png, svg = io.BytesIO(), io.BytesIO()
    with plot_style():
        fig.savefig(png, format="png", dpi=DPI, metadata={"Software": None})
        fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
    return png.getvalue(), svg.getvalue()


def other_strategies(folder: ResultsFolder, present: Sequence[str]) -> list[str]:
    """Strategies other than the comparator, in scenario order, among ``present``."""
    ordered = [s for s in folder.strategies if s in present]
    ordered += [s for s in present if s not in ordered]
    return [s for s in ordered if s != folder.comparator]


def column_floats(table: FolderTable, name: str) -> np.ndarray:
    """A numeric column as floats (missing values as nan)."""
    return np.array([np.nan if v is None else as_float(v) for v in table.column(name)])
