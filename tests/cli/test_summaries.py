"""The numbers `psa`, `dsa` and `sweep` print, each checked against the tables the same
run wrote (the oracle): mean increments with their 95% intervals, the ICER of the means,
P(CE) and EVPI at each WTP; base-case increments, ICER and the tornado; the sweep's
increments, ICER and INMB. Also: --set overrides are echoed, the file count is exact,
strategies go by their labels and percentages have one format."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

BASE = Path(__file__).resolve().parents[2] / "scenarios" / "base.toml"
MONEY = r"-?[\d,]+"
QALY = r"-?\d+\.\d{3}"
CAR_T, IS = "CD19 CAR-T (single infusion)", "Conventional immunosuppression"
PRICE, RATE = "costs.car_t.product", "car_t.relapse.rate"


def num(text: str) -> float:
    return float(text.replace(",", "").rstrip("%"))


def near_money(text: str, cell: str) -> bool:
    return abs(num(text) - float(cell)) <= 0.5 + 1e-6


def near_qaly(text: str, cell: str) -> bool:
    return abs(num(text) - float(cell)) <= 5e-4 + 1e-9


def files_written(out: Path, stdout: str) -> None:
    count = sum(1 for p in out.iterdir() if p.is_file())
    assert f"Wrote {count} files to {out}/" in stdout


@pytest.fixture(scope="module")
def psa_run(tmp_path_factory):
    from click.testing import CliRunner

    from cartsim.cli import main

    out = tmp_path_factory.mktemp("summaries") / "psa"
    done = CliRunner().invoke(main, [str(a) for a in (
        "psa", BASE, "--draws", 20, "--patients", 60, "--set", f"{RATE}=0.05",
        "--population", 1000, "--out", out, "--xlsx")])
    assert done.exit_code == 0, done.output
    return out, done.stdout


def test_psa_prints_means_with_intervals_as_psa_summary_csv(psa_run, read_csv):
    out, text = psa_run
    rows = {r["strategy"]: r for r in read_csv(out / "psa_summary.csv")}
    for key, label in (("immunosuppression", IS), ("car_t", CAR_T)):
        r = rows[key]
        m = re.search(rf"^{re.escape(label)}\s+({MONEY})\s+({MONEY}) to ({MONEY})\s+({QALY})\s+"
                      rf"({QALY}) to ({QALY})$", text, re.MULTILINE)
        assert m, text
        assert all(near_money(m[i], r[c]) for i, c in ((1, "cost"), (2, "cost_low"),
                                                         (3, "cost_high")))
        assert all(near_qaly(m[i], r[c]) for i, c in ((4, "qaly"), (5, "qaly_low"),
                                                        (6, "qaly_high")))
    r = rows["car_t"]
    block = text[text.index(f"{CAR_T} vs {IS} (mean over the draws, 95% interval):"):]
    m = re.search(rf"incremental cost\s+({MONEY})\s+\(({MONEY}) to ({MONEY})\)", block)
    assert near_money(m[1], r["inc_cost"]) and near_money(m[2], r["inc_cost_low"]) \
        and near_money(m[3], r["inc_cost_high"])
    m = re.search(rf"incremental QALYs\s+({QALY})\s+\(({QALY}) to ({QALY})\)", block)
    assert near_qaly(m[1], r["inc_qaly"]) and near_qaly(m[2], r["inc_qaly_low"]) \
        and near_qaly(m[3], r["inc_qaly_high"])
    line = re.search(r"ICER of the means\s+(.+)$", block, re.MULTILINE)[1]
    if r["icer"] == "NA":
        assert line == r["icer_status"]
    else:
        m = re.fullmatch(rf"({MONEY})\s+per QALY \((.+)\)", line)
        assert near_money(m[1], r["icer"]) and m[2] == r["icer_status"]


def test_psa_prints_p_ce_and_evpi_at_each_wtp(psa_run, read_csv):
    out, text = psa_run
    car_t = next(r for r in read_csv(out / "psa_summary.csv") if r["strategy"] == "car_t")
    evpi = {float(r["wtp"]): r for r in read_csv(out / "evpi.csv")}
    assert re.search(rf"WTP \(USD 2024/QALY\)\s+P\(CE\) {re.escape(CAR_T)}\s+EVPI per patient "
                     r"\(USD 2024\)\s+EVPI population \(USD 2024\)", text)
    for lam in (50000, 100000, 150000):
        m = re.search(rf"^\s*{lam:,}\s+(\d+\.\d%)\s+({MONEY})\s+({MONEY})$", text, re.MULTILINE)
        assert m, lam
        assert m[1] == f"{100 * float(car_t[f'p_ce_{lam}']):.1f}%"
        assert near_money(m[2], evpi[lam]["evpi_per_patient"])
        assert near_money(m[3], evpi[lam]["evpi_population"])
    assert " %" not in text                                 # one percentage format


def test_psa_echoes_the_overrides_and_counts_every_file(psa_run):
    out, text = psa_run
    assert f"Set on the command line (--set): {RATE}=0.05" in text
    assert (out / "results.xlsx").is_file()
    files_written(out, text)                                # the workbook counted too
    # labels, never strategy keys (dotted parameter keys such as car_t.relapse.model are
    # names of inputs, shown as written in the scenario)
    assert re.search(r"\bcar_t\b(?!\.)", text.replace(f"{RATE}", "")) is None


def test_dsa_prints_base_increments_icer_and_the_tornado(cli, read_csv, tmp_path):
    out = tmp_path / "dsa"
    done = cli(["dsa", BASE, "--param", PRICE, "--param", RATE, "--patients", 80, "--out", out])
    assert done.exit_code == 0, done.output
    text = done.stdout
    base = read_csv(out / "dsa.csv")[0]
    block = text[text.index(f"Base case, {CAR_T} vs {IS}:"):]
    assert near_money(re.search(rf"incremental cost\s+({MONEY})", block)[1],
                      base["base_inc_cost"])
    assert near_qaly(re.search(rf"incremental QALYs\s+({QALY})", block)[1],
                     base["base_inc_qaly"])
    icer = re.search(r"ICER\s+(.+)$", block, re.MULTILINE)[1]
    assert icer == base["base_icer_status"] if base["base_icer"] == "NA" else \
        near_money(icer.split()[0], base["base_icer"])
    for r in read_csv(out / "tornado.csv"):
        low = f"{float(r['low']):,.0f}" if r["unit"] == "currency" else f"{float(r['low']):.4g}"
        high = f"{float(r['high']):,.0f}" if r["unit"] == "currency" else \
            f"{float(r['high']):.4g}"
        m = re.search(rf"^\s*{r['rank']}\s+{re.escape(r['parameter'])}\s+{re.escape(CAR_T)}\s+"
                      rf"{re.escape(low)}\s+{re.escape(high)}\s+{re.escape(r['unit'])}\s+"
                      rf"({MONEY})\s+({MONEY})\s+({MONEY})$", text, re.MULTILINE)
        assert m, (r, text)
        assert near_money(m[1], r["inmb_low"]) and near_money(m[2], r["inmb_high"]) \
            and near_money(m[3], r["swing"])
    files_written(out, text)


def test_sweep_prints_increments_icer_and_inmb_per_combination(cli, read_csv, tmp_path):
    out = tmp_path / "sweep"
    done = cli(["sweep", BASE, "--grid", f"{PRICE}=300000,450000", "--grid", f"{RATE}=0,0.1",
                "--patients", 80, "--out", out, "--set", "run.horizon=40"])
    assert done.exit_code == 0, done.output
    text = done.stdout
    assert "Set on the command line (--set): run.horizon=40" in text
    for r in read_csv(out / "sweep.csv"):
        price, rate = f"{float(r[PRICE]):,.0f}", f"{float(r[RATE]):.4g}"
        icer = r["icer_status"] if r["icer"] == "NA" else MONEY
        m = re.search(rf"^\s*{price}\s+{rate}\s+{re.escape(CAR_T)}\s+({MONEY})\s+({QALY})\s+"
                      rf"({icer})\s+({MONEY})\s+({MONEY})\s+({MONEY})$", text, re.MULTILINE)
        assert m, (r, text)
        assert near_money(m[1], r["inc_cost"]) and near_qaly(m[2], r["inc_qaly"])
        if r["icer"] != "NA":
            assert near_money(m[3], r["icer"])
        for i, lam in ((4, 50000), (5, 100000), (6, 150000)):
            assert near_money(m[i], r[f"inmb_{lam}"])
    files_written(out, text)
