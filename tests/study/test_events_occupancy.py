"""Run tables as an analyst reads them: each event once in events (a happening recorded
under two labels is counted once, no count lost), and the state-occupancy Markdown at
yearly then 5-yearly time points with the full grid in the CSV."""

from __future__ import annotations

from pathlib import Path

import pytest

from cartsim.params.survival import Exponential
from cartsim.pathway.model import Chance, Outcome, Pathway, State, Transition, same_events
from cartsim.report.render import table_to_csv, table_to_markdown
from cartsim.scenario.load import load_scenario
from cartsim.study.result import RunResult
from cartsim.study.run import run
from cartsim.study.run_tables import yearly_point
from cartsim.table import Table

BASE = Path(__file__).resolve().parents[2] / "scenarios" / "base.toml"


@pytest.fixture(scope="module")
def base_run() -> RunResult:
    return run(load_scenario(BASE), patients=400, seed=5)


def test_retreatment_and_reinfusion_are_one_event_in_the_base_pathways(base_run):
    car_t = base_run.models["car_t"].pathways.values()
    assert same_events(car_t) == {"reinfusion": "retreatment"}
    assert same_events(base_run.models["immunosuppression"].pathways.values()) == {}


def _pathway(also_then: bool, second_label: str = "a") -> Pathway:
    well = State("well", transitions=(Transition("go", "pick", Exponential(1.0)),))
    chances = {
        "pick": Chance("pick", (Outcome(0.5, "a", to="certain"),
                                Outcome(0.5, second_label, to="certain" if second_label != "a"
                                        else "well")),
                       then="certain" if also_then else None),
        "certain": Chance("certain", (Outcome(1.0, "b"),), then="well"),
    }
    return Pathway("s", "well", {"well": well}, chances)


def test_a_certain_event_is_a_twin_only_when_one_event_always_leads_to_it():
    assert same_events([_pathway(also_then=False)]) == {"b": "a"}
    # Also reached without event a (a chance's 'then', or another event): its own event.
    assert same_events([_pathway(also_then=True)]) == {}
    assert same_events([_pathway(also_then=False, second_label="c")]) == {}


def test_events_table_shows_each_event_once_and_loses_no_count(base_run):
    table = base_run.table("events")
    keys = [(r[0], r[1]) for r in table.rows]
    assert len(keys) == len(set(keys))
    car_t = {r[1]: r for r in table.rows if r[0] == "car_t"}
    assert "reinfusion" not in car_t and "retreatment" in car_t
    cols = base_run.outcomes["car_t"].columns
    assert car_t["retreatment"][2] == int(cols["n_retreatment"].sum()) \
        == int(cols["n_reinfusion"].sum()) > 0
    for s, o in base_run.outcomes.items():  # every other event's count is there, once
        labels = [e for e in o.event_names if e != "start"]
        twins = ["reinfusion"] if s == "car_t" else []
        shown = sum(int(r[2]) for r in table.rows if r[0] == s)
        assert shown == sum(int(o.columns[f"n_{e}"].sum()) for e in labels if e not in twins)
    assert any(n.startswith("retreatment: each is also recorded as reinfusion")
               for n in table.notes)


def test_occupancy_markdown_is_yearly_then_five_yearly_and_the_csv_complete(base_run):
    table = base_run.table("state_occupancy")
    times = sorted({float(r[2]) for r in table.rows})
    assert 0.25 in times and 11.0 in times                  # the CSV has the full grid
    assert table_to_csv(table).count("\n") == 1 + len(table.rows)
    assert table.markdown_rows is not None
    shown = sorted({float(table.rows[i][2]) for i in table.markdown_rows})
    assert shown == [*range(11), *range(15, int(times[-1]) + 1, 5),
                     *([times[-1]] if times[-1] % 5 else [])]
    text = table_to_markdown(table)
    assert "| 0.25 |" not in text and "full grid" in text and "|   11 |" not in text
    assert len(text) < len(table_to_csv(table))
    # Each shown time keeps every state's row (a state's rows at that time all shown).
    per_time = {t: sum(1 for r in table.rows if r[2] == t) for t in shown}
    assert len(table.markdown_rows) == sum(per_time.values())


def test_yearly_points_and_markdown_rows_checked():
    assert [t for t in (0.0, 0.25, 2.0, 10.0, 11.0, 15.0, 71.0) if yearly_point(t, 71.0)] \
        == [0.0, 2.0, 10.0, 15.0, 71.0]
    with pytest.raises(ValueError, match="markdown_rows outside"):
        Table("t", "T", ("x",), ((1,),), markdown_rows=(1,))
    kept = Table("t", "T", ("x",), ((1,), (2,), (3,)), markdown_rows=(0, 2))
    cells = [line.strip("| ") for line in table_to_markdown(kept).splitlines()[4:]]
    assert cells == ["1", "3"]
