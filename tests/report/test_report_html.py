"""`cartsim report`: one self-contained HTML page per results folder.

The folders come from the KV-REF model of tests/conftest.py with three uncertain
parameters (so PSA, EVPPI and DSA have something to say) and a hostile title
and strategy label (HTML and mathtext must both be escaped). Every expected
sentence is recomputed here from the CSVs with plain f-strings, not with the
report's own formatting code.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cartsim.cli import main
from cartsim.report.folder_reader import FolderTable
from cartsim.report.html import table_html

HOSTILE_TITLE = 'KV <script>alert("x")</script> & co'
HOSTILE_LABEL = "CAR-T <b>$x$</b>"
SCENARIO = f"""\
model = "custom"
title = {json.dumps(HOSTILE_TITLE)}
[run]
patients = 300
seed = 7
horizon = "lifetime"
discount = {{ costs = 0.035, outcomes = 0.035, convention = "continuous" }}
life_table = "none"
wtp = [50000, 100000]
comparator = "immunosuppression"
currency = "USD"
price_year = 2024
[strategies.immunosuppression]
start = "on_is"
[strategies.immunosuppression.states.on_is]
utility = 0.60
cost = {{ drugs = 20000 }}
death = {{ rate = 0.04 }}
[strategies.cart]
label = {json.dumps(HOSTILE_LABEL)}
start = "infusion"
upfront_cost = {{ product = {{ value = 350000, dist = "gamma", mean = 350000, se = 50000 }} }}
[strategies.cart.chances.infusion]
then = "remission"
[strategies.cart.chances.infusion.outcomes.crs]
probability = 0.15
[strategies.cart.events.crs]
cost = {{ adverse_events = 25000 }}
qaly_loss = 0.02
[strategies.cart.states.remission]
remission = true
utility = {{ value = 0.85, dist = "beta", mean = 0.85, se = 0.04 }}
cost = {{ monitoring = 2000 }}
death = {{ rate = 0.015 }}
[strategies.cart.states.remission.transitions.relapse]
to = "on_is"
rate = {{ value = 0.1, dist = "gamma", mean = 0.1, se = 0.03 }}
[strategies.cart.states.on_is]
utility = 0.60
cost = {{ drugs = 20000 }}
death = {{ rate = 0.04 }}
"""
"""KV-REF (VERIFICATION.md section 3) with three uncertain parameters, a remission state,
a hostile title and a hostile strategy label."""


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """run, psa and dsa folders of the scenario, each with its report."""
    root = tmp_path_factory.mktemp("report")
    scenario = root / "kv.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    runner = CliRunner()
    commands = {"run": ["run", scenario],
                "psa": ["psa", scenario, "--draws", 24, "--patients", 40],
                "dsa": ["dsa", scenario, "--patients", 100]}
    out = {}
    for name, args in commands.items():
        out[name] = root / name
        done = runner.invoke(main, [str(a) for a in [*args, "--out", out[name], "-q"]])
        assert done.exit_code == 0, done.output
        done = runner.invoke(main, ["report", str(out[name]), "-q"])
        assert done.exit_code == 0, done.output
    return out


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def page(folder: Path) -> str:
    return (folder / "report.html").read_text(encoding="utf-8")


class Outline(HTMLParser):
    """Collects tags, attributes, data tables (rows per table) and the visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.rows: dict[str, int] = {}
        self.headers: dict[str, list[str]] = {}
        self.text: list[str] = []
        self._table: str | None = None
        self._in_th = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "table" and a.get("data-table"):
            self._table = a["data-table"]
            self.rows[self._table], self.headers[self._table] = 0, []
        elif tag == "tr" and self._table is not None:
            self.rows[self._table] += 1
        self._in_th = tag == "th"

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        if tag == "th":
            self._in_th = False

    def handle_data(self, data):
        self.text.append(data)
        if self._in_th and self._table is not None:
            self.headers[self._table].append(data)


def outline(folder: Path) -> Outline:
    parser = Outline()
    parser.feed(page(folder))
    return parser


def visible_text(folder: Path) -> str:
    return " ".join(" ".join(outline(folder).text).split())


@pytest.mark.parametrize("kind", ["run", "psa", "dsa"])
def test_report_fetches_nothing_and_runs_no_script(folders, kind):
    html = page(folders[kind])
    parsed = outline(folders[kind])
    assert not re.search(r"""(src|href|action|poster|data)\s*=\s*["']?\s*(https?:|//|file:)""",
                         html, re.IGNORECASE)
    assert not re.search(r"url\(|@import|@font-face", html, re.IGNORECASE)
    assert {tag for tag, _ in parsed.tags}.isdisjoint({"script", "link", "iframe", "object",
                                                         "embed", "video", "audio"})
    images = [a for tag, a in parsed.tags if tag == "img"]
    assert images
    assert all(a["src"].startswith("data:image/png;base64,") for a in images)
    assert all(a.get("href", "#").startswith("#") for tag, a in parsed.tags if tag == "a")


@pytest.mark.parametrize("kind", ["run", "psa", "dsa"])
def test_every_table_of_the_folder_appears_with_all_rows(folders, kind):
    parsed = outline(folders[kind])
    tables = sorted(p.stem for p in folders[kind].glob("*.csv"))
    assert set(parsed.rows) == set(tables)
    for name in tables:
        rows = read_csv(folders[kind] / f"{name}.csv")
        shown = parsed.rows[name] - 1
        assert shown == len(rows) or 200 <= shown < len(rows), name
        if shown < len(rows):
            assert (f"Showing the first {shown:,} of {len(rows):,} rows; the full table is in "
                    f"{name}.csv.") in visible_text(folders[kind])
        text = (folders[kind] / f"{name}.csv").read_text(encoding="utf-8")
        header = next(csv.reader(text.splitlines()))
        assert parsed.headers[name] == header


def test_manifest_and_settings_are_shown(folders):
    manifest = json.loads((folders["run"] / "run.json").read_text(encoding="utf-8"))
    text = visible_text(folders["run"])
    assert manifest["scenario_hash"] in text
    assert f"Seed {manifest['seed']}" in text
    assert "Price year 2024" in text and "Currency USD" in text
    assert "Inputs and sources" in text


def test_run_words_match_summary_csv(folders):
    text = visible_text(folders["run"])
    row = next(r for r in read_csv(folders["run"] / "summary.csv") if r["strategy"] == "cart")
    dc, dq = float(row["inc_cost"]), float(row["inc_qaly"])
    assert (f"costs {abs(dc):,.0f} USD 2024 {'more' if dc >= 0 else 'less'} and gives "
            f"{abs(dq):.3f} {'more' if dq >= 0 else 'fewer'} QALYs") in text
    if row["icer"] != "NA":
        assert f"is {float(row['icer']):,.0f} USD 2024 per QALY" in text
    for wtp in (50000, 100000):
        inmb = float(row[f"inmb_{wtp}"])
        verdict = "cost-effective" if inmb > 0 else "not cost-effective"
        assert f"At {wtp:,} USD 2024/QALY the incremental net monetary benefit of " in text
        assert f"is {inmb:,.0f} USD 2024 per patient: {HOSTILE_LABEL} is {verdict}." in text


def test_psa_words_match_ceac_csv(folders):
    text = visible_text(folders["psa"])
    ceac = read_csv(folders["psa"] / "ceac.csv")
    for wtp in (50000.0, 100000.0):
        p = next(float(r["probability_cost_effective"]) for r in ceac
                 if float(r["wtp"]) == wtp and r["strategy"] == "cart")
        # The label, as in the run report (run.json's settings carry it), one % format.
        assert (f"At {wtp:,.0f} USD 2024/QALY {HOSTILE_LABEL} is cost-effective in "
                f"{100 * p:.1f}% of 24 draws.") in text
    evppi = read_csv(folders["psa"] / "evppi.csv")
    top = evppi[0]                                    # sorted by its largest value
    value, wtp = max((float(top[f"evppi_{w}"]), w) for w in (50000, 100000))
    assert value > 0
    assert (f"matters most is {top['parameter']} (EVPPI {value:,.0f} USD 2024 per patient at "
            f"{wtp:,} USD 2024/QALY).") in text


def test_dsa_words_match_tornado_csv(folders):
    text = visible_text(folders["dsa"])
    first = next(r for r in read_csv(folders["dsa"] / "tornado.csv") if r["rank"] == "1")
    assert (f"Rank 1: {first['parameter']} from" in text)
    assert (f"from {float(first['inmb_low']):,.0f} USD 2024 to "
            f"{float(first['inmb_high']):,.0f} USD 2024.") in text


def test_plots_are_inline_and_missing_ones_are_explained(folders):
    drawn = {a["data-plot"] for tag, a in outline(folders["run"]).tags if tag == "img"}
    assert drawn == {"state_occupancy", "cumulative_cost", "remission_survival", "benefit_risk"}
    assert {p.name for p in (folders["run"] / "plots").iterdir()} == {
        f"{n}.{ext}" for n in drawn for ext in ("png", "svg")}
    text = visible_text(folders["run"])
    assert "needs psa.csv, which this folder does not have (made by cartsim psa)" in text
    assert "needs tornado.csv" in text
    psa_drawn = {a["data-plot"] for tag, a in outline(folders["psa"]).tags if tag == "img"}
    assert psa_drawn == {"ce_plane", "ceac_ceaf", "evppi", "evpi", "info_rank", "inmb_curve",
                         "psa_convergence"}


def test_psa_plot_tables_hold_what_the_draws_give(folders):
    """inmb_curve, psa_convergence and info_rank recomputed from psa.csv, evpi.csv and
    evppi.csv with plain numpy (the oracle)."""
    draws = read_csv(folders["psa"] / "psa.csv")
    dc = np.array([float(r["cost_cart"]) - float(r["cost_immunosuppression"]) for r in draws])
    dq = np.array([float(r["qaly_cart"]) - float(r["qaly_immunosuppression"]) for r in draws])
    curve = read_csv(folders["psa"] / "inmb_curve.csv")
    assert {float(r["wtp"]) for r in curve} >= {0.0, 50000.0, 100000.0, 200000.0}
    for r in curve:
        inmb = float(r["wtp"]) * dq - dc
        np.testing.assert_allclose(float(r["expected_inmb"]), inmb.mean(), rtol=1e-12,
                                   atol=1e-9)
        np.testing.assert_allclose([float(r["inmb_low"]), float(r["inmb_high"])],
                                   np.quantile(inmb, [0.025, 0.975]), rtol=1e-12, atol=1e-9)
        assert float(r["share_positive"]) == np.mean(inmb > 0)
    running = read_csv(folders["psa"] / "psa_convergence.csv")
    assert len(running) == 2 * len(draws)                   # two WTPs, every draw count
    for r in running:
        inmb = (float(r["wtp"]) * dq - dc)[:int(r["draws"])]
        np.testing.assert_allclose(float(r["mean_inmb"]), inmb.mean(), rtol=1e-10)
        if inmb.size == 1:
            assert r["mcse"] == r["band_low"] == "NA"
            continue
        mcse = inmb.std(ddof=1) / np.sqrt(inmb.size)
        np.testing.assert_allclose(float(r["mcse"]), mcse, rtol=1e-8)
        np.testing.assert_allclose(float(r["band_high"]), inmb.mean() + 1.959963984540054 * mcse,
                                   rtol=1e-6)
    evpi = {float(r["wtp"]): float(r["evpi_per_patient"])
            for r in read_csv(folders["psa"] / "evpi.csv")}
    evppi = read_csv(folders["psa"] / "evppi.csv")
    rank = read_csv(folders["psa"] / "info_rank.csv")
    assert [r["parameter"] for r in rank[::2]] == [r["parameter"] for r in evppi]
    for r in rank:
        part = next(float(e[f"evppi_{float(r['wtp']):.0f}"]) for e in evppi
                    if e["parameter"] == r["parameter"])
        assert float(r["evppi"]) == part
        assert float(r["evpi"]) == pytest.approx(evpi[float(r["wtp"])], rel=1e-12)
        assert (r["share_of_evpi"] == "NA" if float(r["evpi"]) == 0 else
                float(r["share_of_evpi"]) == pytest.approx(part / float(r["evpi"]), rel=1e-12))


def test_text_is_escaped(folders):
    html = page(folders["run"])
    assert "<script" not in html and "<b>$x$</b>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in html
    assert HOSTILE_TITLE in visible_text(folders["run"])


def test_existing_report_is_refused_then_replaced_identically(folders, cli, tmp_path):
    folder = folders["dsa"]
    before = {p.name: p.read_bytes() for p in [folder / "report.html",
                                               *sorted((folder / "plots").iterdir())]}
    refused = cli(["report", folder])
    assert refused.exit_code == 2
    assert "--overwrite" in refused.output
    again = cli(["report", folder, "--overwrite", "-q"])
    assert again.exit_code == 0, again.output
    after = {p.name: p.read_bytes() for p in [folder / "report.html",
                                              *sorted((folder / "plots").iterdir())]}
    assert after == before
    elsewhere = tmp_path / "sub" / "mine.html"
    done = cli(["report", folder, "--out", elsewhere, "--overwrite", "-q"])
    assert done.exit_code == 0, done.output
    assert elsewhere.read_bytes() == before["report.html"]


def test_changed_table_is_flagged(folders, cli, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(folders["dsa"], copy)
    (copy / "dsa.md").write_text((copy / "dsa.md").read_text(encoding="utf-8") + "\nedited\n",
                                 encoding="utf-8")
    done = cli(["report", copy, "--overwrite", "-q"])
    assert done.exit_code == 0, done.output
    assert "differ from the checksums recorded in run.json (edited or missing since the run): " \
           "dsa.md." in visible_text(copy)


@pytest.mark.parametrize("setup", ["missing", "not_results", "file"])
def test_report_of_a_non_results_folder_is_a_usage_error(cli, tmp_path, setup):
    target = tmp_path / "target"
    if setup == "not_results":
        target.mkdir()
        (target / "notes.txt").write_text("hello", encoding="utf-8")
    elif setup == "file":
        target.write_text("x", encoding="utf-8")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    done = cli(["report", target])
    assert done.exit_code == 2
    assert "Error:" in done.output and str(target) in done.output
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_threshold_words_match_threshold_csv(cli, tmp_path):
    scenario = tmp_path / "kv.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    out = tmp_path / "threshold"
    done = cli(["threshold", scenario, "--param", "strategies.cart.upfront_cost.product",
                "--patients", 200, "--out", out, "-q"])
    assert done.exit_code == 0, done.output
    done = cli(["report", out, "-q"])
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in (out / "plots").iterdir()) == ["threshold_inmb.png",
                                                                 "threshold_inmb.svg"]
    text = visible_text(out)
    for row in read_csv(out / "threshold.csv"):
        assert (f"At {float(row['wtp']):,.0f} USD 2024/QALY the threshold of {row['parameter']} "
                f"for {HOSTILE_LABEL} is {float(row['threshold']):,.0f} USD 2024") in text
    assert 'data-plot="threshold_inmb"' in page(out)


def test_long_tables_are_cut_with_a_note():
    columns = tuple(f"c{j}" for j in range(1000))
    page = table_html(FolderTable("wide", "Wide <one>", columns,
                                  tuple(tuple(range(1000)) for _ in range(300))))
    assert page.count("<tr>") == 1 + 200
    assert "Showing the first 200 of 300 rows; the full table is in wide.csv." in page
    assert "Wide &lt;one&gt;" in page and "<details>" in page
