"""The plots of value of information, convergence, sweeps, thresholds and scenario
comparisons, each drawn from a hand-written folder with known numbers: every line,
bar, cell and marker must be exactly what its table holds, and rendering is
byte-identical."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cartsim.report import plots_run, plots_study, plots_voi
from cartsim.report.folder_reader import read_results_folder
from cartsim.report.plots import PLOTS, plot_files, render_plots
from cartsim.report.plots_base import PlotSkipped

LABELS = {"usual": "Usual care", "new": "New $drug$"}


def folder(tmp_path: Path, tables: dict[str, str], command: str = "psa") -> Path:
    path = tmp_path / command
    path.mkdir()
    for name, text in tables.items():
        (path / f"{name}.csv").write_text(text, encoding="utf-8")
    (path / "run.json").write_text(json.dumps({
        "command": command, "scenario_name": "known", "seed": 1,
        "settings": {"currency": "EUR", "price_year": 2023, "wtp": [20000.0, 50000.0],
                     "comparator": "usual", "strategies": ["usual", "new"],
                     "strategy_labels": LABELS}}), encoding="utf-8")
    return path


@pytest.fixture
def psa(tmp_path) -> Path:
    return folder(tmp_path, {
        "evpi": "wtp,evpi_per_patient,evpi_population\n0.0,50.0,5000.0\n20000.0,80.0,8000.0\n"
                "50000.0,20.0,2000.0\n",
        "info_rank": "parameter,wtp,evppi,evpi,share_of_evpi\nrate,20000.0,40.0,80.0,0.5\n"
                     "rate,50000.0,5.0,20.0,0.25\nage,20000.0,0.0,80.0,0.0\n"
                     "age,50000.0,0.0,20.0,0.0\nprice,20000.0,8.0,80.0,0.1\n"
                     "price,50000.0,0.0,20.0,0.0\n",
        "inmb_curve": "strategy,comparator,wtp,expected_inmb,inmb_low,inmb_high,share_positive\n"
                      "new,usual,0.0,-100.0,-300.0,50.0,0.2\n"
                      "new,usual,20000.0,200.0,-50.0,400.0,0.7\n"
                      "new,usual,50000.0,650.0,100.0,900.0,0.99\n",
        "psa_convergence": "strategy,wtp,draws,mean_inmb,mcse,band_low,band_high\n"
                           "new,20000.0,1,300.0,NA,NA,NA\nnew,20000.0,2,250.0,50.0,152.0,348.0\n"
                           "new,20000.0,3,210.0,40.0,131.6,288.4\n"
                           "new,50000.0,1,700.0,NA,NA,NA\nnew,50000.0,2,640.0,60.0,522.4,757.6\n"
                           "new,50000.0,3,655.0,30.0,596.2,713.8\n",
    })


def test_evpi_curve_per_patient_and_population(psa):
    fig = plots_voi.evpi_curve(read_results_folder(psa))
    assert len(fig.axes) == 2
    assert list(fig.axes[0].lines[0].get_ydata()) == [50.0, 80.0, 20.0]
    assert list(fig.axes[1].lines[0].get_ydata()) == [5000.0, 8000.0, 2000.0]
    assert all("EUR 2023" in ax.get_ylabel() for ax in fig.axes)


def test_info_rank_shows_shares_in_table_order_without_zero_rows(psa):
    fig = plots_voi.info_rank(read_results_folder(psa))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["rate", "price"]
    # bars of the first WTP, then of the second: percentages of the EVPI
    assert [p.get_width() for p in ax.patches] == [50.0, 10.0, 25.0, 0.0]


def test_inmb_curve_is_the_expected_value_with_its_band(psa):
    fig = plots_voi.inmb_curve(read_results_folder(psa))
    ax = fig.axes[0]
    line = next(li for li in ax.lines if "expected INMB" in str(li.get_label()))
    assert list(line.get_ydata()) == [-100.0, 200.0, 650.0]
    assert str(line.get_label()) == r"New \$drug\$: expected INMB"
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert {-300.0, 50.0, -50.0, 400.0, 100.0, 900.0} <= set(band.tolist())


def test_convergence_has_a_panel_per_wtp_with_the_running_mean(psa):
    fig = plots_voi.convergence(read_results_folder(psa))
    assert [ax.get_title() for ax in fig.axes] == ["WTP 20,000 per QALY", "WTP 50,000 per QALY"]
    assert list(fig.axes[0].lines[0].get_ydata()) == [300.0, 250.0, 210.0]
    assert list(fig.axes[1].lines[0].get_ydata()) == [700.0, 640.0, 655.0]


SWEEP_HEAD = ("strategy,comparator,inc_cost,inc_qaly,icer,icer_status,inmb_20000,inmb_20000_mcse,"
              "inmb_50000,inmb_50000_mcse")


def test_one_way_sweep_lines_follow_the_table(tmp_path):
    path = folder(tmp_path, {"sweep": f"rate,{SWEEP_HEAD}\n"
                             "0.1,new,usual,1.0,0.1,10.0,x,1.0,1.0,2.0,1.0\n"
                             "0.2,new,usual,1.0,0.1,10.0,x,3.0,1.0,4.0,1.0\n"}, "sweep")
    read = read_results_folder(path)
    fig = plots_study.sweep_lines(read)
    ys = [list(li.get_ydata()) for li in fig.axes[0].lines if "WTP" in str(li.get_label())]
    assert ys == [[1.0, 3.0], [2.0, 4.0]]
    with pytest.raises(PlotSkipped, match="two-way sweep"):
        plots_study.sweep_heat_map(read)


def test_two_way_sweep_heat_map_cells_are_the_inmb_at_the_largest_wtp(tmp_path):
    rows = "".join(f"{a},{b},new,usual,1.0,0.1,10.0,x,0.0,1.0,{10 * a + b},1.0\n"
                   for a in (1.0, 2.0, 3.0) for b in (5.0, 7.0))
    path = folder(tmp_path, {"sweep": f"a,b,{SWEEP_HEAD}\n{rows}"}, "sweep")
    read = read_results_folder(path)
    fig = plots_study.sweep_heat_map(read)
    cells = fig.axes[0].images[0].get_array()
    np.testing.assert_array_equal(cells, [[15.0, 25.0, 35.0], [17.0, 27.0, 37.0]])
    assert "WTP 50,000" in fig.axes[0].get_title() and "New" in fig.axes[0].get_title()
    with pytest.raises(PlotSkipped, match="one-way sweep"):
        plots_study.sweep_lines(read)


def test_threshold_plot_marks_the_root_on_the_zero_line(tmp_path):
    head = ("strategy,comparator,parameter,wtp,threshold,unit,interval_low,interval_high,"
            "status,base_value,lower,upper,inmb_at_lower,inmb_at_upper,inmb_mcse_at_threshold,"
            "slope")
    path = folder(tmp_path, {"threshold": f"{head}\nnew,usual,price,20000.0,600.0,currency,"
                             "550.0,650.0,ok,500.0,0.0,1500.0,1200.0,-1800.0,100.0,-2.0\n"},
                  "threshold")
    fig = plots_study.threshold_inmb(read_results_folder(path))
    ax = fig.axes[0]
    curve = ax.lines[0]
    assert list(curve.get_xdata()) == [0.0, 600.0, 1500.0]
    assert list(curve.get_ydata()) == [1200.0, 0.0, -1800.0]
    root = ax.lines[1]
    assert (root.get_xdata()[0], root.get_ydata()[0], root.get_marker()) == (600.0, 0.0, "D")
    segment = ax.collections[0].get_segments()[0]
    assert segment.tolist() == [[550.0, 0.0], [650.0, 0.0]]


def test_forest_plot_shows_each_scenarios_inmb_and_interval(tmp_path):
    path = folder(tmp_path, {"forest": "scenario,strategy,wtp,inmb,inmb_mcse,inmb_low,inmb_high\n"
                             "a,new,20000.0,100.0,10.0,80.4,119.6\n"
                             "b,new,20000.0,-50.0,20.0,-89.2,-10.8\n"}, "compare")
    fig = plots_study.forest(read_results_folder(path))
    ax = fig.axes[0]
    assert [li.get_xdata()[0] for li in ax.lines if li.get_marker() == "s"] == [100.0, -50.0]
    assert [c.get_segments()[0][:, 0].tolist() for c in ax.collections] == [
        [80.4, 119.6], [-89.2, -10.8]]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]


def test_benefit_risk_colours_say_whom_each_difference_favours(tmp_path):
    path = folder(tmp_path, {"benefit_risk": (
        "strategy,comparator,section,outcome,unit,comparator_value,strategy_value,difference,"
        "difference_se,direction,favours,number_needed,number_needed_type\n"
        "new,usual,all-cause death,deaths within 5 years,\"per 1,000 patients\",100.0,80.0,"
        "-20.0,5.0,fewer,strategy,50.0,NNT\n"
        "new,usual,added harms,patients with crs_grade_3,\"per 1,000 patients\",0.0,20.0,20.0,"
        "4.0,more,comparator,50.0,NNH\n")}, "run")
    fig = plots_run.benefit_risk(read_results_folder(path))
    colours = [p.get_facecolor()[:3] for p in fig.axes[0].patches]
    assert colours[0] != colours[1]
    legend = fig.legends[0]
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts == [r"favours New \$drug\$", "favours Usual care"]
    handles = [h.get_facecolor()[:3] for h in legend.legend_handles]
    assert handles == colours


def test_new_plots_render_byte_identically(psa):
    specs = [s for s in PLOTS if s.name in ("evpi", "info_rank", "inmb_curve",
                                            "psa_convergence")]
    first, skipped = render_plots(read_results_folder(psa), specs)
    second, _ = render_plots(read_results_folder(psa), specs)
    assert skipped == [] and len(first) == 4
    assert plot_files(first) == plot_files(second)


def test_sweep_and_compare_folders_lead_with_sentences_and_labelled_key_columns(tmp_path):
    from cartsim.report.html import build_report
    from cartsim.report.html_words import key_sentences

    path = folder(tmp_path, {"sweep": f"rate,{SWEEP_HEAD}\n"
                             "0.1,new,usual,-1500.0,0.25,NA,dominant,1.0,1.0,14000.0,1.0\n"
                             "1000.0,new,usual,2000.0,0.01,200000.0,x,3.0,1.0,-1500.0,1.0\n"},
                  "sweep")
    read = read_results_folder(path)
    assert key_sentences(read) == [
        r"With rate = 0.1, New $drug$ costs 1,500 EUR 2023 less and gives 0.250 more QALYs; "
        "at 50,000 EUR 2023/QALY its INMB is 14,000 EUR 2023: cost-effective.",
        r"With rate = 1,000, New $drug$ costs 2,000 EUR 2023 more and gives 0.010 more QALYs; "
        "at 50,000 EUR 2023/QALY its INMB is -1,500 EUR 2023: not cost-effective."]
    page = build_report(read, [])
    key = page[page.index('id="key-results"'):page.index('id="plots"')]
    assert 'data-key-table="sweep"' in key and "<td>New $drug$</td>" in key
    assert "<td>new</td>" not in key
