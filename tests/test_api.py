"""The Python API for notebooks (cartsim.api, re-exported by cartsim): the studies the
command line runs, returning results that hold their tables; examples/quickstart.py
runs as shipped."""

from __future__ import annotations

import inspect
import runpy
import sys
from pathlib import Path

import pytest

import cartsim
from cartsim.report.folder import folder_files

ROOT = Path(__file__).resolve().parents[1]


def test_the_public_api_is_pinned():
    assert sorted(cartsim.__all__) == [
        "CartsimError", "ParameterError", "RunResult", "ScenarioError", "SimulationError",
        "Table", "__version__", "budget", "capacity", "compare", "dsa", "example_scenario",
        "load_scenario", "psa", "run", "run_scenario", "sweep", "threshold", "validate"]


def test_every_public_function_documents_an_example():
    functions = [getattr(cartsim, n) for n in cartsim.__all__
                 if inspect.isfunction(getattr(cartsim, n))]
    assert len(functions) == 12
    for f in functions:
        assert ">>>" in (f.__doc__ or ""), f.__name__


def test_a_study_from_python_writes_what_the_command_writes(kv_text, write_toml, cli,
                                                            tmp_path):
    """cartsim.run is the study `cartsim run` runs: its tables render to the very files
    the command writes, and its manifest differs only in the time it was made."""
    path = write_toml(kv_text)
    out = tmp_path / "cli"
    done = cli(["run", path, "--patients", "300", "--seed", "5", "--set", "run.wtp=[20000]",
                "--out", out, "--quiet"])
    assert done.exit_code == 0, done.output
    result = cartsim.run(path, patients=300, seed=5, overrides=["run.wtp=[20000]"])
    files = folder_files(result)
    assert sorted(files) == sorted(p.name for p in out.iterdir())
    for name, text in files.items():
        if name != "run.json":
            assert (out / name).read_text(encoding="utf-8") == text, name
    written = (out / "run.json").read_text(encoding="utf-8").splitlines()
    made = files["run.json"].splitlines()
    differ = [a for a, b in zip(written, made, strict=True) if a != b]
    assert all('"created"' in line for line in differ), differ


def test_tables_are_found_by_name_with_decoded_labels():
    result = cartsim.run(cartsim.example_scenario(), patients=200)
    deaths = result.table("deaths")
    assert set(deaths.column("strategy")) == {"cart", "immunosuppression"}
    assert all(isinstance(c, str) for c in deaths.column("cause"))
    with pytest.raises(KeyError, match=r"no table 'tornado'.*it holds summary, frontier"):
        result.table("tornado")
    low_level = cartsim.run_scenario(cartsim.example_scenario(), patients=50)
    assert low_level.tables() == ()
    with pytest.raises(KeyError, match="a low-level result"):
        low_level.table("summary")


def test_to_pandas_names_the_extra_when_pandas_is_missing(monkeypatch):
    result = cartsim.run(cartsim.example_scenario(), patients=50)
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now fails
    with pytest.raises(ImportError, match=r"pip install 'cartsim\[pandas\]'"):
        result.to_pandas("summary")


def test_to_pandas_gives_the_table_as_a_data_frame():
    pd = pytest.importorskip("pandas", reason="pandas is an optional extra")
    result = cartsim.run(cartsim.example_scenario(), patients=50)
    frame = result.to_pandas("summary")
    assert isinstance(frame, pd.DataFrame)
    table = result.table("summary")
    assert list(frame.columns) == list(table.columns) and len(frame) == len(table.rows)
    assert list(frame["strategy"]) == list(table.column("strategy"))


def test_a_scenario_object_takes_overrides_like_a_path():
    scenario = cartsim.example_scenario()
    moved = cartsim.api.scenario_of(scenario, ["strategies.cart.upfront_cost.product=1"])
    assert moved.parameters["strategies.cart.upfront_cost.product"].value == 1.0
    assert moved.overrides == ("strategies.cart.upfront_cost.product=1",)
    assert cartsim.api.scenario_of(scenario) is scenario


def test_the_quickstart_example_runs(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    runpy.run_path(str(ROOT / "examples" / "quickstart.py"), run_name="__main__")
    printed = capsys.readouterr().out
    assert "more costly, more effective" in printed
    assert "engine passes: 2" in printed
    assert ("('psa_summary', 'psa', 'ceac', 'evpi', 'evppi', 'variance', 'inmb_curve', "
            "'info_rank', 'psa_convergence', 'parameters')") in printed
