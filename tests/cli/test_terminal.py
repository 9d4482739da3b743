"""What every command prints to the terminal: examples in --help, nothing at all with
--quiet, a summary naming the results folder on stdout, progress only on stderr; and
the progress callbacks the commands hand to the layers that do the work."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from matplotlib.figure import Figure

import cartsim.study.runner
from cartsim.cli import main
from cartsim.engine.capacity import PROGRESS_STEPS, simulate_programme
from cartsim.report.plots import PlotSpec, render_plots
from cartsim.report.plots_base import PlotSkipped
from cartsim.scenario.load import load_scenario
from cartsim.study.prepare import prepare
from cartsim.study.runner import run_scenario
from cartsim.study.validate import validate_case_series

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
BASE = SCENARIOS / "base.toml"
PRICE = "costs.car_t.product"


def _results(tmp: Path) -> Path:
    """A small results folder for `report` to read."""
    folder = tmp / "results"
    assert invoke(["run", BASE, "--patients", "200", "--out", folder, "-q"]).exit_code == 0
    return folder


# Each command's arguments (writing into the given folder) and the start of its progress
# label, which click prints once on stderr when stderr is not a terminal.
COMMANDS: dict[str, tuple[Callable[[Path], list], str]] = {
    "run": (lambda out: ["run", BASE, "--patients", "200", "--out", out],
            "Simulating 200 patients x 2 strategies"),
    "psa": (lambda out: ["psa", BASE, "--draws", "4", "--patients", "100", "--out", out],
            "PSA: 4 draws"),
    "dsa": (lambda out: ["dsa", BASE, "--param", PRICE, "--patients", "100", "--out", out],
            "DSA: 3 runs"),
    "sweep": (lambda out: ["sweep", BASE, "--grid", f"{PRICE}=300000,450000",
                           "--patients", "100", "--out", out], "Sweep: 2 runs"),
    "threshold": (lambda out: ["threshold", BASE, "--param", PRICE, "--wtp", "100000",
                               "--patients", "100", "--out", out],
                  f"Searching for the threshold of {PRICE}"),
    "compare": (lambda out: ["compare", SCENARIOS / "relapse_base.toml",
                             SCENARIOS / "relapse_none.toml", "--patients", "100",
                             "--out", out], "Compare: 2 scenarios"),
    "capacity": (lambda out: ["capacity", SCENARIOS / "capacity.toml", "--replications", "1",
                              "--out", out], "Simulating 1 programme(s)"),
    "validate": (lambda out: ["validate", SCENARIOS / "case_series.toml", "--replicates", "20",
                              "--out", out], "Simulating 20 case series"),
    "report": (lambda out: ["report", _results(out)], "Drawing up to"),
}
EVERY_COMMAND = ("check", "params", *COMMANDS)


def invoke(args: list) -> Result:
    try:
        runner = CliRunner(mix_stderr=False)  # click < 8.2 mixes stderr in by default
    except TypeError:
        runner = CliRunner()  # click >= 8.2 always keeps stdout and stderr apart
    result = runner.invoke(main, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def test_main_help_gives_an_example_of_every_command():
    result = invoke(["--help"])
    assert result.exit_code == 0
    examples = result.stdout.split("Examples:", 1)[1]
    for name in EVERY_COMMAND:
        assert f"cartsim {name} " in examples, name


@pytest.mark.parametrize("name", EVERY_COMMAND)
def test_every_command_help_shows_an_example_invocation(name):
    result = invoke([name, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.stdout
    after = result.stdout.split("Example", 1)[1]
    assert f"cartsim {name} " in after
    if name != "params":  # params prints its product, so it has nothing to quieten
        assert "--quiet" in result.stdout


@pytest.mark.parametrize("name", list(COMMANDS))
def test_quiet_prints_nothing_and_still_writes_the_folder(name, tmp_path):
    args, _ = COMMANDS[name]
    out = tmp_path / "out"
    result = invoke([*args(out), "--quiet"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == ""
    written = out / "results" if name == "report" else out
    assert (written / "run.json").is_file()
    if name == "report":
        assert (written / "report.html").is_file()


@pytest.mark.parametrize("name", list(COMMANDS))
def test_summary_names_the_folder_and_progress_stays_on_stderr(name, tmp_path):
    args, label = COMMANDS[name]
    out = tmp_path / "out"
    result = invoke(args(out))
    assert result.exit_code == 0, result.stderr
    assert f"{out}" in result.stdout.split("Wrote", 1)[1]
    assert result.stdout.split("Wrote", 1)[0].strip()  # a summary comes before it
    assert label in result.stderr
    assert label not in result.stdout


def test_check_prints_an_ok_line_and_the_cohort_unless_quiet():
    loud, quiet = invoke(["check", BASE]), invoke(["check", BASE, "-q"])
    assert loud.exit_code == quiet.exit_code == 0
    first, rest = loud.stdout.split("\n", 1)
    assert ": OK (" in first and "OK" not in rest
    # base.toml's mix 8:3:4, normalised
    assert rest.startswith("Cohort as specified (sampled):")
    for group, share in (("sle", 8 / 15), ("iim", 3 / 15), ("ssc", 4 / 15)):
        assert re.search(rf"^{group}\s+{share:.3f}\s", rest, re.MULTILINE), rest
    assert loud.stderr == ""
    assert quiet.stdout == quiet.stderr == ""


def test_quiet_still_reports_errors_on_stderr(tmp_path):
    out = tmp_path / "never"
    result = invoke(["run", BASE, "--set", "car_t.relapse.rate=-1", "--out", out, "-q"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("Error:") and "car_t.relapse.rate" in result.stderr
    assert not out.exists()


def test_a_terminal_gets_the_whole_bar_on_stderr(tmp_path, monkeypatch):
    # Pretend stderr is a terminal, so click draws the bar itself and not just its label.
    monkeypatch.setattr("click._termui_impl.isatty", lambda _stream: True)
    result = invoke(["run", BASE, "--patients", "200", "--out", tmp_path / "r"])
    assert result.exit_code == 0, result.stderr
    assert "100%" in result.stderr and "[####" in result.stderr
    assert "[####" not in result.stdout and "%  " not in result.stdout


def test_run_scenario_reports_every_patient_of_every_strategy_chunk_by_chunk(monkeypatch):
    monkeypatch.setattr(cartsim.study.runner, "RUN_CHUNK", 64)
    steps: list[int] = []
    s = load_scenario(BASE)
    result = run_scenario(s, patients=150, progress=steps.append)
    assert steps == [64, 64, 64, 64, 22, 22]  # three chunks x two strategies
    assert sum(steps) == 150 * len(result.strategies)


@pytest.mark.parametrize("uncertainty", [False, True])
def test_validation_reports_every_series(uncertainty):
    steps: list[int] = []
    s = load_scenario(SCENARIOS / "case_series.toml")
    validate_case_series(s, replicates=3, uncertainty=uncertainty, progress=steps.append)
    assert steps == ([1, 1, 1] if uncertainty else [3])


def test_capacity_reports_each_stage_once():
    steps: list[int] = []
    s = load_scenario(SCENARIOS / "capacity.toml", ("capacity.replications=1",))
    models, life_table = prepare(s)
    simulate_programme(s, models, life_table, seed=1, progress=steps.append)
    assert steps == [1] * PROGRESS_STEPS


def test_render_plots_reports_each_plot_drawn_or_skipped():
    def skip(_folder: object) -> Figure:
        raise PlotSkipped("no table")

    specs = [PlotSpec("a", "A", "", lambda _folder: Figure(figsize=(1, 1))),
             PlotSpec("b", "B", "", skip)]
    steps: list[int] = []
    plots, skipped = render_plots(None, specs, progress=steps.append)  # type: ignore[arg-type]
    assert [p.spec.name for p in plots] == ["a"] and [s.spec.name for s in skipped] == ["b"]
    assert steps == [1, 1]
