"""Key results in words, read from a results folder's tables.

Each sentence states numbers exactly as the tables hold them (rounded for
reading: money to the unit, QALYs to 3 decimals, shares to 0.1%), so a reader
can find every figure again in a CSV. Plain text; the HTML layer escapes it.
"""

from __future__ import annotations

from collections.abc import Mapping

from cartsim.report.folder_reader import FolderTable, ResultsFolder, as_float
from cartsim.vocabulary import ALIVE_ROW, REMISSION_ROW

SNAPSHOT_YEARS = (5.0, 10.0)


def money_text(value: float, unit: str) -> str:
    """``-12,345 USD 2024`` (0 decimals; no negative zero)."""
    text = f"{value:,.0f}"
    return f"{'0' if text in ('-0', '0') else text} {unit}"


def percent_text(share: float) -> str:
    """``62.0%``: a share to 0.1%, the one percentage format of the report and terminal."""
    text = f"{100.0 * share:.1f}"
    return f"{'0.0' if text == '-0.0' else text}%"


def wtp_text(lam: float, unit: str) -> str:
    return f"{lam:,.0f} {unit}/QALY"


def _wtp_key(lam: float) -> str:
    return f"{lam:.0f}" if float(lam).is_integer() else f"{lam:g}"


def _row(table: FolderTable | None, **keys: object) -> Mapping[str, object] | None:
    if table is None:
        return None
    for rec in table.records():
        if all(rec.get(k) == v for k, v in keys.items()):
            return rec
    return None


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def run_sentences(folder: ResultsFolder) -> list[str]:
    """Incremental results, ICER, INMB at each WTP and the break-even time (summary.csv)."""
    summary, unit = folder.tables.get("summary"), folder.money_unit
    if summary is None:
        return []
    out = []
    for rec in summary.records():
        if rec["icer_status"] == "comparator":
            continue
        s, comp = folder.label(str(rec["strategy"])), folder.label(str(rec["comparator"]))
        dc, dq = _num(rec["inc_cost"]), _num(rec["inc_qaly"])
        if dc is not None and dq is not None:
            out.append(f"Per patient, {s} costs {money_text(abs(dc), unit)} "
                       f"{'more' if dc >= 0 else 'less'} and gives {abs(dq):.3f} "
                       f"{'more' if dq >= 0 else 'fewer'} QALYs than {comp} (both discounted).")
        status, icer = str(rec["icer_status"]), _num(rec["icer"])
        if status == "dominant":
            out.append(f"{s} is dominant: it costs less and gives more QALYs than {comp}.")
        elif status == "dominated":
            out.append(f"{s} is dominated: it costs more and gives fewer QALYs than {comp}.")
        elif icer is not None:
            per = "gained" if status.startswith("more costly") else "lost"
            out.append(f"The ICER of {s} vs {comp} is {money_text(icer, unit)} per QALY {per} "
                       f"({status}).")
        for lam in folder.wtp:
            inmb = _num(rec.get(f"inmb_{_wtp_key(lam)}"))
            if inmb is None:
                continue
            verdict = "cost-effective" if inmb > 0 else "not cost-effective"
            out.append(f"At {wtp_text(lam, unit)} the incremental net monetary benefit of {s} "
                       f"is {money_text(inmb, unit)} per patient: {s} is {verdict}.")
        years = _num(rec.get("break_even_years"))
        out.append(f"The cumulative discounted cost of {s} falls to that of {comp} for good after "
                   f"{years:.1f} years." if years is not None else
                   f"The cumulative discounted cost of {s} does not fall to that of {comp} "
                   "within the horizon.")
    return out + occupancy_sentences(folder)


def occupancy_sentences(folder: ResultsFolder) -> list[str]:
    """Shares alive and in drug-free remission at 5 and 10 years (state_occupancy.csv)."""
    table = folder.tables.get("state_occupancy")
    if table is None:
        return []
    out = []
    strategies = list(dict.fromkeys(str(s) for s in table.column("strategy")))
    for years in SNAPSHOT_YEARS:
        parts = []
        for s in strategies:
            alive = _row(table, strategy=s, state=ALIVE_ROW, time=years)
            remission = _row(table, strategy=s, state=REMISSION_ROW, time=years)
            if alive is None or remission is None:
                continue
            text = f"{folder.label(s)}: {percent_text(as_float(alive['share']))} alive"
            if as_float(remission["share"]) > 0:
                text += f", {percent_text(as_float(remission['share']))} in drug-free remission"
            parts.append(text)
        if parts:
            out.append(f"At {years:g} years: " + "; ".join(parts) + ".")
    return out


def psa_sentences(folder: ResultsFolder) -> list[str]:
    """P(cost-effective) at each WTP (ceac.csv), EVPI (evpi.csv), top EVPPI (evppi.csv)."""
    ceac, unit = folder.tables.get("ceac"), folder.money_unit
    out = []
    sizes = folder.manifest.get("sizes")
    draws = _num(sizes.get("iterations")) if isinstance(sizes, Mapping) else None
    of_draws = f"{draws:,.0f} draws" if draws is not None else "the draws"
    for lam in folder.wtp:
        for s in folder.strategies:
            if s == folder.comparator:
                continue
            rec = _row(ceac, wtp=lam, strategy=s)
            if rec is not None:
                out.append(f"At {wtp_text(lam, unit)} {folder.label(s)} is cost-effective in "
                           f"{percent_text(as_float(rec['probability_cost_effective']))} of "
                           f"{of_draws}.")
    evpi = folder.tables.get("evpi")
    for lam in folder.wtp:
        rec = _row(evpi, wtp=lam)
        if rec is not None:
            out.append(f"The expected value of perfect information at {wtp_text(lam, unit)} is "
                       f"{money_text(as_float(rec['evpi_per_patient']), unit)} per patient.")
    evppi = folder.tables.get("evppi")
    if evppi is not None and evppi.rows:
        out.append(evppi_sentence(folder, evppi))
    return out


def evppi_sentence(folder: ResultsFolder, evppi: FolderTable) -> str:
    """The parameter whose uncertainty matters most: evppi.csv's first row (the table is
    sorted by each parameter's largest EVPPI over the WTPs), at the WTP of that value."""
    unit, cols = folder.money_unit, [c for c in evppi.columns if c.startswith("evppi_")]
    best = evppi.records()[0]
    values = [(as_float(best[c]), c) for c in cols]
    top, col = max(values, key=lambda v: v[0], default=(0.0, ""))
    if top <= 0.0:
        return ("No parameter has a non-zero EVPPI at any WTP: resolving any one parameter's "
                "uncertainty would not change the decision.")
    lam = float(col[len("evppi_"):])
    return (f"The parameter whose uncertainty matters most is {best['parameter']} (EVPPI "
            f"{money_text(top, unit)} per patient at {wtp_text(lam, unit)}).")


def dsa_sentences(folder: ResultsFolder, top: int = 3) -> list[str]:
    """The parameters with the widest swing in INMB (tornado.csv)."""
    table, unit = folder.tables.get("tornado"), folder.money_unit
    if table is None:
        return []
    out = []
    recs = sorted(table.records(), key=lambda r: as_float(r["rank"]))
    for rec in recs[:top]:
        lo, hi = as_float(rec["inmb_low"]), as_float(rec["inmb_high"])
        out.append(f"Rank {rec['rank']}: {rec['parameter']} from "
                   f"{_value(rec['low'], rec['unit'], unit)}"
                   f" to {_value(rec['high'], rec['unit'], unit)} moves the incremental net "
                   "monetary benefit of "
                   f"{folder.label(str(rec['strategy']))} at "
                   f"{wtp_text(as_float(rec['wtp']), unit)} from "
                   f"{money_text(lo, unit)} to {money_text(hi, unit)}.")
    return out


def threshold_sentences(folder: ResultsFolder) -> list[str]:
    """The parameter value at which INMB = 0, at each WTP (threshold.csv)."""
    table, unit = folder.tables.get("threshold"), folder.money_unit
    if table is None:
        return []
    out = []
    for rec in table.records():
        head = (f"At {wtp_text(as_float(rec['wtp']), unit)} the threshold of {rec['parameter']} "
                f"for {folder.label(str(rec['strategy']))}")
        if rec["threshold"] is None:
            out.append(f"{head} was not found ({rec['status']}).")
            continue
        interval = "" if rec["interval_low"] is None or rec["interval_high"] is None else (
            f" (95% interval {_value(rec['interval_low'], rec['unit'], unit)} to "
            f"{_value(rec['interval_high'], rec['unit'], unit)})")
        out.append(f"{head} is {_value(rec['threshold'], rec['unit'], unit)}{interval}: "
                   f"{rec['status']}.")
    return out


def _plain(value: object) -> str:
    """A swept value as written: 450,000 or 0.05."""
    number = as_float(value)
    return f"{number:,.0f}" if abs(number) >= 1000 else f"{number:.4g}"


def _value(value: object, unit: object, money_unit: str) -> str:
    number = as_float(value)
    if unit == "currency":
        return money_text(number, money_unit)
    return f"{number:.4g} {unit or ''}".rstrip()


def varied_sentences(folder: ResultsFolder) -> list[str]:
    """compare.csv (per scenario) or sweep.csv (per combination): the increments and
    whether the strategy is cost-effective at the largest WTP."""
    unit = folder.money_unit
    out = []
    for name in ("compare", "sweep"):
        table = folder.tables.get(name)
        if table is None or not folder.wtp or "strategy" not in table.columns:
            continue
        grid = table.columns[:table.columns.index("strategy")] if name == "sweep" else ()
        lam = folder.wtp[-1]
        for rec in table.records():
            dc, dq = _num(rec["inc_cost"]), _num(rec["inc_qaly"])
            inmb = _num(rec.get(f"inmb_{_wtp_key(lam)}"))
            if dc is None or dq is None or inmb is None:
                continue
            which = (f"In {rec['scenario']}" if name == "compare" else "With " + ", ".join(
                f"{g} = {_plain(rec[g])}" for g in grid))
            s = folder.label(str(rec["strategy"]))
            verdict = "cost-effective" if inmb > 0 else "not cost-effective"
            out.append(f"{which}, {s} costs {money_text(abs(dc), unit)} "
                       f"{'more' if dc >= 0 else 'less'} and gives {abs(dq):.3f} "
                       f"{'more' if dq >= 0 else 'fewer'} QALYs; at {wtp_text(lam, unit)} its "
                       f"INMB is {money_text(inmb, unit)}: {verdict}.")
    return out


def key_sentences(folder: ResultsFolder) -> list[str]:
    """Every key result this folder's tables support, run first, then PSA, then DSA."""
    out = (run_sentences(folder) + psa_sentences(folder) + dsa_sentences(folder)
           + threshold_sentences(folder) + varied_sentences(folder))
    if folder.changed:
        out.append("Warning: these files differ from the checksums recorded in run.json "
                   f"(edited or missing since the run): {', '.join(folder.changed)}.")
    return out
