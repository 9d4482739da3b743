"""Every plot of the report: which tables each needs, rendering, and the files.

:func:`render_plots` draws each plot whose tables the results folder has and
lists the others with the reason they were skipped; :func:`plot_files` names
the PNG and SVG of each plot for ``RESULTS_DIR/plots/``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from matplotlib.figure import Figure

from cartsim.report import plots_budget, plots_psa, plots_run, plots_study, plots_voi
from cartsim.report.folder_reader import ResultsFolder
from cartsim.report.plots_base import PlotSkipped, figure_files, plot_style

PLOTS_FOLDER = "plots"


@dataclass(frozen=True)
class PlotSpec:
    """A plot: its file stem, its title in the report, and how to draw it."""

    name: str
    title: str
    caption: str
    draw: Callable[[ResultsFolder], Figure]


@dataclass(frozen=True)
class Plot:
    """A rendered plot: its spec and its PNG and SVG bytes."""

    spec: PlotSpec
    png: bytes
    svg: bytes


@dataclass(frozen=True)
class Skipped:
    spec: PlotSpec
    reason: str


PLOTS: tuple[PlotSpec, ...] = (
    PlotSpec("ce_plane", "Cost-effectiveness plane",
             "Incremental cost and QALYs of each PSA draw against the comparator, with lines of "
             "constant willingness to pay through the origin.", plots_psa.ce_plane),
    PlotSpec("ceac_ceaf", "Cost-effectiveness acceptability curves and frontier",
             "Share of PSA draws in which each strategy has the highest net benefit; the "
             "frontier follows the strategy with the highest expected net benefit.",
             plots_psa.ceac_ceaf),
    PlotSpec("evppi", "EVPPI by parameter",
             "Expected value of partial perfect information per patient for the parameters "
             "whose uncertainty matters most to the decision.", plots_psa.evppi_bars),
    PlotSpec("evpi", "Expected value of perfect information against WTP",
             "EVPI per patient (and in the population, with --population) at each willingness "
             "to pay: the most a decision maker should pay to remove all uncertainty.",
             plots_voi.evpi_curve),
    PlotSpec("info_rank", "Information-rank plot",
             "Each parameter's EVPPI as a percentage of the EVPI at the same WTP, in the order "
             "of evppi.csv; parameters at 0 everywhere are left out.", plots_voi.info_rank),
    PlotSpec("inmb_curve", "Expected incremental benefit against WTP",
             "Mean incremental net monetary benefit per patient over the PSA draws, with the "
             "band holding 95% of the draws; above 0 the strategy is cost-effective.",
             plots_voi.inmb_curve),
    PlotSpec("psa_convergence", "PSA convergence",
             "Running mean of the incremental net monetary benefit over the first k draws, "
             "with a +/- 1.96 MCSE band, at each WTP: enough draws when the curve is flat "
             "inside a band narrow enough for the decision.", plots_voi.convergence),
    PlotSpec("tornado", "Tornado diagram",
             "Incremental net monetary benefit with each parameter at its low and high value, "
             "all others at their base values.", plots_psa.tornado),
    PlotSpec("sweep_lines", "One-way sweep",
             "Incremental net monetary benefit per patient at each WTP against the swept "
             "parameter (every other input at its base value).", plots_study.sweep_lines),
    PlotSpec("sweep_heat_map", "Two-way sweep heat map",
             "Incremental net monetary benefit per patient at the largest WTP on the grid of "
             "the two swept parameters; blue cells are cost-effective, red are not.",
             plots_study.sweep_heat_map),
    PlotSpec("threshold_inmb", "INMB against the threshold parameter",
             "Incremental net monetary benefit at the ends of the search range and at the "
             "threshold (joined by straight lines), the threshold marked with its Monte Carlo "
             "95% interval.", plots_study.threshold_inmb),
    PlotSpec("forest", "Scenario forest plot",
             "Incremental net monetary benefit per patient of each scenario compared, with its "
             "Monte Carlo 95% interval (+/- 1.96 MCSE), at each WTP.", plots_study.forest),
    PlotSpec("state_occupancy", "State occupancy over time",
             "Share of patients in each state of each strategy's pathway, and dead.",
             plots_run.state_occupancy),
    PlotSpec("cumulative_cost", "Cumulative discounted cost and break-even",
             "Mean cumulative discounted cost per patient; the marker shows when a strategy's "
             "cumulative cost falls to the comparator's for good (the cost offset).",
             plots_run.cumulative_cost),
    PlotSpec("remission_survival", "Survival and drug-free remission",
             "Share of patients alive and in drug-free remission at each time point "
             "(quarterly for two years, then yearly), drawn as steps: a value holds until the "
             "next point. Nobody is in remission before CAR-T infusion and a response, so "
             "remission starts at 0; the title gives the first point at which anyone is.",
             plots_run.remission_survival),
    PlotSpec("benefit_risk", "Benefit-risk against the comparator",
             "Difference per 1,000 patients treated in all-cause deaths (1, 5, 10 years, "
             "lifetime), cancers, serious infections, severe flares and the harms only the "
             "strategy adds (CRS, ICANS, LICATS, treatment deaths, T-cell malignancy).",
             plots_run.benefit_risk),
    PlotSpec("budget_impact", "Budget impact",
             "Undiscounted yearly spend of the eligible patients newly treated, on the "
             "comparator (current) and under the new strategy mix (new), and the difference "
             "(budget impact; 95% PSA interval with --psa-draws).", plots_budget.budget_impact),
)


def render_plots(folder: ResultsFolder, specs: Sequence[PlotSpec] = PLOTS,
                 progress: Callable[[int], None] | None = None,
                 ) -> tuple[list[Plot], list[Skipped]]:
    """Draw every plot the folder has tables for; say why each other one was skipped.
    ``progress(1)`` after each spec, drawn or skipped."""
    plots, skipped = [], []
    for spec in specs:
        with plot_style():
            try:
                fig = spec.draw(folder)
            except PlotSkipped as reason:
                skipped.append(Skipped(spec, str(reason)))
            else:
                png, svg = figure_files(fig)
                plots.append(Plot(spec, png, svg))
        if progress is not None:
            progress(1)
    return plots, skipped


def plot_files(plots: Sequence[Plot]) -> dict[str, bytes]:
    """File name (inside the plots folder) -> bytes, a PNG and an SVG per plot."""
    files: dict[str, bytes] = {}
    for plot in plots:
        files[f"{plot.spec.name}.png"] = plot.png
        files[f"{plot.spec.name}.svg"] = plot.svg
    return files
