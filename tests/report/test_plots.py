"""Plots drawn from a results folder's tables (cartsim.report.plots*).

A hand-written folder with known numbers checks that each figure shows exactly
what its table holds (points, bars, lines, the break-even marker) and that every
money axis names the currency and price year. Rendering is checked for identical
bytes on a second run and for skipping, with a reason, a plot whose table is
missing or empty.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image

from cartsim.report import plots_psa, plots_run
from cartsim.report.folder_reader import read_results_folder
from cartsim.report.plots import PLOTS, plot_files, render_plots
from cartsim.report.plots_base import PlotSkipped

UNIT = "EUR 2023"
WTP = (20000.0, 50000.0)
RNG_FREE_DRAWS = [(1, 100.0, 1.0, 300.0, 2.0), (2, 150.0, 1.5, 200.0, 1.2),
                  (3, 120.0, 1.1, 420.0, 3.1)]
"""draw, cost_usual, qaly_usual, cost_new, qaly_new."""


def write_folder(folder: Path, tables: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in tables.items():
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    (folder / "run.json").write_text(json.dumps({
        "command": "psa", "scenario_name": "known", "seed": 1,
        "settings": {"currency": "EUR", "price_year": 2023, "wtp": list(WTP),
                     "comparator": "usual", "strategies": ["usual", "new"]}}), encoding="utf-8")
    return folder


@pytest.fixture
def known(tmp_path) -> Path:
    psa = "draw,cost_usual,qaly_usual,ly_usual,cost_new,qaly_new,ly_new\n" + "".join(
        f"{d},{cu},{qu},1.0,{cn},{qn},1.0\n" for d, cu, qu, cn, qn in RNG_FREE_DRAWS)
    return write_folder(tmp_path / "known", {
        "psa": psa,
        "ceac": "wtp,strategy,probability_cost_effective,on_frontier\n"
                "0.0,usual,0.7,true\n0.0,new,0.3,false\n"
                "20000.0,usual,0.4,false\n20000.0,new,0.6,true\n",
        "evppi": "parameter,evppi_20000,evppi_50000,negligible\nrate,10.0,30.0,false\n"
                 "cost,5.0,1.0,false\nage,0.0,0.0,true\nzeta,0.0,0.0,true\n",
        "tornado": "rank,parameter,strategy,unit,low,high,wtp,inmb_base,inmb_low,inmb_high,swing\n"
                   "1,cost,new,currency,1000.0,3000.0,50000.0,500.0,900.0,-100.0,1000.0\n"
                   "2,rate,new,per year,0.1,0.3,50000.0,500.0,400.0,650.0,250.0\n",
        "summary": "strategy,label,break_even_years\nusual,Usual care,NA\nnew,New $drug$,2.5\n",
        "cost_over_time": "time,cumulative_cost_usual,cumulative_cost_new\n"
                          "0.0,0.0,500.0\n1.0,400.0,700.0\n4.0,1600.0,900.0\n",
        "benefit_risk": "strategy,comparator,section,outcome,unit,comparator_value,"
                        "strategy_value,difference,difference_se,direction,favours,"
                        "number_needed,number_needed_type\n"
                        "new,usual,all-cause death,deaths within 5 years,\"per 1,000 patients\","
                        "100.0,80.0,-20.0,5.0,fewer,strategy,50.0,NNT\n"
                        "new,usual,outcomes both arms can have,QALYs (discounted),per patient,"
                        "10.0,12.0,2.0,0.1,more,strategy,NA,NA\n"
                        "new,usual,added harms,patients with crs_grade_3,\"per 1,000 patients\","
                        "0.0,20.0,20.0,4.0,more,comparator,50.0,NNH\n",
    })


def money_axes(fig) -> list[str]:
    labels = [label for ax in fig.axes for label in (ax.get_xlabel(), ax.get_ylabel())]
    return [t for t in labels if any(w in t.lower() for w in ("cost", "benefit", "evppi", "pay"))]


def test_ce_plane_shows_each_draws_increments_and_wtp_lines(known):
    fig = plots_psa.ce_plane(read_results_folder(known))
    ax = fig.axes[0]
    points = ax.collections[0].get_offsets()
    expected = [(qn - qu, cn - cu) for _, cu, qu, cn, qn in RNG_FREE_DRAWS]
    np.testing.assert_allclose(points, expected, rtol=1e-12)
    np.testing.assert_allclose(ax.collections[1].get_offsets(), [np.mean(expected, axis=0)])
    slopes = [np.diff(line.get_ydata())[0] / np.diff(line.get_xdata())[0] for line in ax.lines
              if "WTP" in str(line.get_label())]
    np.testing.assert_allclose(slopes, WTP)
    assert all(UNIT in t for t in money_axes(fig))


def test_ceac_lines_and_frontier_follow_the_table(known):
    fig = plots_psa.ceac_ceaf(read_results_folder(known))
    lines = {str(line.get_label()): line for line in fig.axes[0].lines}
    np.testing.assert_array_equal(lines["CEAC: Usual care"].get_ydata(), [0.7, 0.4])
    np.testing.assert_array_equal(lines[r"CEAC: New \$drug\$"].get_ydata(), [0.3, 0.6])
    np.testing.assert_array_equal(
        lines["CEAF: strategy with the highest expected net benefit"].get_ydata(), [0.7, 0.6])
    assert UNIT in fig.axes[0].get_xlabel()


def test_tornado_bars_run_from_base_to_low_and_high_inmb(known):
    fig = plots_psa.tornado(read_results_folder(known))
    bars = [(p.get_x(), p.get_width()) for p in fig.axes[0].patches]
    # low-value bars (ranks 1, 2), then high-value bars, each starting at the base 500
    assert bars == [(500.0, 400.0), (500.0, -100.0), (500.0, -600.0), (500.0, 150.0)]
    assert "cost (1,000 to 3,000 EUR 2023)" in [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert all(UNIT in t for t in money_axes(fig))


def test_evppi_bars_hold_each_wtp_column(known):
    """The table's order (largest first), without parameters whose EVPPI is 0."""
    fig = plots_psa.evppi_bars(read_results_folder(known))
    widths = sorted(p.get_width() for p in fig.axes[0].patches)
    assert widths == [1.0, 5.0, 10.0, 30.0]
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["rate", "cost"]
    assert UNIT in fig.axes[0].get_xlabel()


def test_evppi_plot_is_skipped_when_every_value_is_zero(known):
    (known / "evppi.csv").write_text("parameter,evppi_20000,negligible\nage,0.0,true\n",
                                     encoding="utf-8")
    with pytest.raises(PlotSkipped, match=r"EVPPI in evppi\.csv is 0"):
        plots_psa.evppi_bars(read_results_folder(known))


def test_benefit_risk_bars_are_differences_per_1000(known):
    fig = plots_run.benefit_risk(read_results_folder(known))
    ax = fig.axes[0]
    # Rows per patient (QALYs) are not bars; each bar is coloured by the arm it favours.
    assert [p.get_width() for p in ax.patches] == [-20.0, 20.0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["deaths within 5 years",
                                                            "patients with CRS grade 3"]
    assert [p.get_facecolor()[:3] for p in ax.patches] == [
        pytest.approx((0x1f / 255, 0x77 / 255, 0xb4 / 255)),    # favours the strategy
        pytest.approx((0xff / 255, 0x7f / 255, 0x0e / 255))]    # favours the comparator
    assert "per 1,000" in ax.get_xlabel()


def test_cumulative_cost_marks_the_break_even_time(known):
    fig = plots_run.cumulative_cost(read_results_folder(known))
    ax = fig.axes[0]
    marker = next(line for line in ax.lines if "break-even" in str(line.get_label()))
    # interpolated between (1, 700) and (4, 900) at t = 2.5
    assert (marker.get_xdata()[0], marker.get_ydata()[0]) == (2.5, 800.0)
    assert r"New \$drug\$" in str(marker.get_label())  # a label's $ never starts mathtext
    assert all(UNIT in t for t in money_axes(fig))


def test_missing_and_empty_tables_skip_plots_with_reasons(known):
    (known / "evppi.csv").write_text("parameter,evppi_20000\n", encoding="utf-8")
    (known / "cost_over_time.csv").unlink()
    specs = [s for s in PLOTS if s.name in ("evppi", "cumulative_cost", "state_occupancy")]
    drawn, skipped = render_plots(read_results_folder(known), specs)
    assert drawn == []
    reasons = {s.spec.name: s.reason for s in skipped}
    assert reasons == {
        "evppi": "evppi.csv has no rows",
        "cumulative_cost": "needs cost_over_time.csv, which this folder does not have "
                           "(made by cartsim run)",
        "state_occupancy": "needs state_occupancy.csv, which this folder does not have "
                           "(made by cartsim run)"}


def test_rendering_is_byte_identical_and_carries_no_date(known):
    specs = [s for s in PLOTS if s.name == "ceac_ceaf"]
    first, _ = render_plots(read_results_folder(known), specs)
    second, _ = render_plots(read_results_folder(known), specs)
    files = plot_files(first)
    assert files == plot_files(second)
    assert sorted(files) == ["ceac_ceaf.png", "ceac_ceaf.svg"]
    for name, data in files.items():
        if name.endswith(".png"):
            assert data.startswith(b"\x89PNG\r\n\x1a\n")
            assert b"Software" not in data and b"Matplotlib" not in data
            pixels = image.imread(io.BytesIO(data))
            assert pixels.shape[0] > 300 and pixels.shape[1] > 500
            assert np.ptp(pixels[..., :3]) > 0.5  # not one colour
        else:
            assert data.startswith(b"<?xml") and b"<svg" in data
            assert b"<dc:date>" not in data


def test_real_run_folder_draws_every_run_plot(cli, tmp_path):
    out = tmp_path / "run"
    base = Path(__file__).resolve().parents[2] / "scenarios" / "base.toml"
    done = cli(["run", base, "--patients", 150, "--out", out, "-q"])
    assert done.exit_code == 0, done.output
    folder = read_results_folder(out)
    for draw in (plots_run.state_occupancy, plots_run.remission_survival,
                 plots_run.cumulative_cost, plots_run.benefit_risk):
        fig = draw(folder)
        assert fig.axes
        assert all("USD 2024" in t for t in money_axes(fig))
    fig = plots_run.state_occupancy(folder)
    for ax in fig.axes:
        if ax.collections:  # stacked shares reach exactly 1 (the states and dead partition)
            top = ax.collections[-1].get_paths()[0].vertices[:, 1].max()
            assert top == pytest.approx(1.0, abs=1e-9)
    # car_t has 16 states (more than the 10 colours of the palette): no two look alike.
    car_t = fig.axes[1]
    looks = [(tuple(np.round(c.get_facecolor()[0], 6)), c.get_hatch() or "")
             for c in car_t.collections]
    assert len(looks) > 11 and len(set(looks)) == len(looks)
    assert sum(1 for c in car_t.collections if tuple(c.get_facecolor()[0][:3]) ==
               pytest.approx((0.8, 0.8, 0.8))) == 1  # grey is dead's alone
    # Survival and remission are steps: a value holds until the next time point, so
    # remission is 0 until the first point at which anyone is in it.
    fig = plots_run.remission_survival(folder)
    ax = fig.axes[0]
    remission = [line for line in ax.get_lines() if "remission" in str(line.get_label())]
    assert remission and all(line.get_drawstyle() == "steps-post" for line in ax.get_lines())
    table = folder.tables["state_occupancy"]
    first = min(float(r["time"]) for r in table.records()
                if r["state"] == "drug_free_remission" and float(r["share"]) > 0)
    assert first > 0 and f"at {first:g} years" in ax.get_title()
    x, y = remission[0].get_data()
    assert y[0] == 0 and x[np.argmax(np.asarray(y) > 0)] == first


def test_distinct_looks_never_repeat_and_avoid_grey():
    from cartsim.report.plots_base import PALETTE, distinct_looks

    assert distinct_looks(3) == [(c, "") for c in PALETTE[:3]]  # the usual colours
    for n in (9, 10, 54, 55, 400):
        looks = distinct_looks(n)
        assert len(looks) == n == len(set(looks))
        assert not any(len({c[1:3], c[3:5], c[5:7]}) == 1 for c, _ in looks)
