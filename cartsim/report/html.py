"""One self-contained HTML report of a results folder.

The page needs nothing but itself: styles are inline, plots are inline base64
PNG, there is no script and no font, image or link to fetch. It leads with the
answer: the key results in words and the key columns of the folder's main table
(with any warning about the scenario), then every plot (and why any is missing),
every table (as the Markdown files round them), the inputs with their sources,
and last, folded, the run settings and the manifest. Every piece of text is
HTML-escaped. The same folder gives the same bytes: the only date shown is the one
recorded in run.json.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from html import escape

from cartsim.report.folder_reader import INPUTS_TABLE, FolderTable, ResultsFolder
from cartsim.report.html_words import key_sentences
from cartsim.report.plots import Plot, Skipped

MAX_CELLS = 150_000
"""Cells shown per table (at least 200 rows); a longer table says its CSV has them all."""
OPEN_ROWS = 40
"""Tables longer than this start folded (click to open)."""
KEY_ROWS = 12
"""Rows of the key results table (the rest are in the full table below)."""
KEY_TABLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("summary", ("label", "cost", "qaly", "inc_cost", "inc_qaly", "icer", "icer_status",
                 "inmb_*", "break_even_years")),
    ("psa_summary", ("strategy", "cost", "qaly", "inc_cost", "inc_cost_low", "inc_cost_high",
                     "inc_qaly", "inc_qaly_low", "inc_qaly_high", "icer", "icer_status",
                     "p_ce_*")),
    ("compare", ("scenario", "strategy", "inc_cost", "inc_qaly", "icer", "icer_status",
                 "inmb_*")),
    ("sweep", ("<grid>", "strategy", "inc_cost", "inc_qaly", "icer", "icer_status", "inmb_*")),
    ("tornado", ("rank", "parameter", "strategy", "low", "high", "inmb_low", "inmb_high",
                 "swing")),
    ("threshold", ("strategy", "wtp", "threshold", "interval_low", "interval_high", "status")),
)
"""The table whose key columns lead the report, the first of these the folder has
(patterns as in fnmatch; ``<grid>`` = a sweep's parameter columns; no ``*_mcse``)."""

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
margin:0;color:#1b1b1b;background:#fff;line-height:1.45}
main{max-width:1100px;margin:0 auto;padding:1.5rem 2rem 4rem}
h1{font-size:1.6rem;margin:.2rem 0 .4rem}h2{border-bottom:2px solid #ddd;margin-top:2.4rem}
h3{margin:1.6rem 0 .4rem}.lead{color:#555}nav a{margin-right:1rem}
table{border-collapse:collapse;font-size:.85rem;margin:.4rem 0}
th,td{border:1px solid #ddd;padding:.2rem .45rem;vertical-align:top}
th{background:#f3f4f6}td.num{text-align:right;white-space:nowrap}
.scroll{overflow-x:auto;max-width:100%;border:1px solid #eee}
.scroll table{margin:0}
.key li{margin:.25rem 0}.note{color:#555;font-size:.85rem;margin:.2rem 0}
figure{margin:1.2rem 0;max-width:100%}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#444;font-size:.9rem}.warn{color:#9a3412;font-weight:600}
pre{background:#f6f8fa;padding:.8rem;overflow:auto;font-size:.8rem;white-space:pre-wrap;
overflow-wrap:anywhere}
table.kv th{text-align:left;width:16rem}table.kv td{overflow-wrap:anywhere}
details.fold>summary{cursor:pointer;font-weight:600;margin:.6rem 0}
@media print{
@page{size:A4 landscape;margin:10mm}
body{font-size:9pt}main{max-width:none;padding:0}nav{display:none}
.scroll{overflow:visible;border:0}
table{width:100%;font-size:6.5pt;table-layout:auto}
th,td{padding:.1rem .2rem;white-space:normal;overflow-wrap:anywhere}
td.num{white-space:normal}
tr,figure,img{break-inside:avoid;page-break-inside:avoid}
thead{display:table-header-group}
h2,h3{break-after:avoid;page-break-after:avoid}
details::details-content{content-visibility:visible;display:block}
details>summary{display:none}
}
"""
"""Screen: every table in its own box that scrolls sideways (never clipped) and sits
within the page width. Print: landscape, tables wrap to the page width, no page
break inside a row or a figure, folded sections printed open."""

SETTING_LABELS = (
    ("title", "Title"), ("model", "Model"), ("strategies", "Strategies"),
    ("comparator", "Comparator"), ("horizon", "Time horizon"),
    ("discount_costs", "Discount rate, costs (per year)"),
    ("discount_outcomes", "Discount rate, outcomes (per year)"),
    ("discount_convention", "Discounting convention"), ("currency", "Currency"),
    ("price_year", "Price year"), ("cost_conversion_factor", "Cost conversion factor"),
    ("perspective", "Perspective"), ("wtp", "Willingness to pay (per QALY)"),
    ("life_table", "Life table"), ("relapse_model", "Relapse model"),
    ("patients", "Patients per strategy"), ("common_random_numbers", "Common random numbers"),
    ("groups", "Patient groups"),
)
RUN_LABELS = (
    ("command", "Command"), ("scenario_file", "Scenario file"), ("scenario_name", "Scenario"),
    ("scenario_hash", "Scenario hash (SHA-256)"), ("overrides", "Overrides (--set)"),
    ("seed", "Seed"), ("sizes", "Sizes"), ("engine", "Engine"),
    ("cartsim_version", "cartsim version"), ("git_commit", "Git commit"),
    ("created", "Created (UTC)"),
)


def _text(value: object) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value) or "none"
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {_text(v)}" for k, v in value.items())
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1000:
        return f"{value:,.0f}"
    return "NA" if value is None else str(value)


def _kv_table(pairs: Sequence[tuple[str, object]]) -> str:
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(_text(v))}</td></tr>" for k, v in pairs)
    return f'<table class="kv">{rows}</table>'


COHORT_HEADINGS = (("group", "Group"), ("patients", "Patients"), ("share", "Share"),
                   ("age_mean", "Age, mean"), ("age_sd", "Age, SD"), ("age_min", "Age, min"),
                   ("age_max", "Age, max"), ("female_share", "Female"))


def _cohort_cell(key: str, value: object) -> str:
    if isinstance(value, float) and key in ("share", "female_share"):
        return f"{100 * value:.1f}%"
    if isinstance(value, float):
        return f"{value:.1f}"
    return _text(value)


def cohort_html(cohort: Mapping[str, object]) -> str:
    """run.json's cohort: who was simulated, per group and overall."""
    groups = cohort.get("groups")
    if not isinstance(groups, list) or not groups:
        return ""
    head = "".join(f"<th>{escape(label)}</th>" for _, label in COHORT_HEADINGS)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{escape(_cohort_cell(k, g.get(k)))}</td>'
                         if k != "group" else f"<td>{escape(_text(g.get(k)))}</td>"
                         for k, _ in COHORT_HEADINGS) + "</tr>"
        for g in groups if isinstance(g, Mapping))
    source = cohort.get("file")
    where = f"the patients of {source}" if source else "sampled from the scenario's cohort"
    return (f'<h3 id="cohort">Cohort simulated</h3><p class="note">{escape(where)}; '
            f"ages in years.</p><table class=\"cohort\"><thead><tr>{head}"
            f"</tr></thead><tbody>{body}</tbody></table>")


def warnings_html(warnings: object) -> str:
    if not isinstance(warnings, list) or not warnings:
        return ""
    items = "".join(f'<li class="warn">{escape(_text(w))}</li>' for w in warnings)
    return f'<h3 id="warnings">Warnings about the scenario</h3><ul class="warnings">{items}</ul>'


def settings_html(folder: ResultsFolder) -> str:
    settings, manifest = folder.settings, folder.manifest
    pairs = [(label, settings[key]) for key, label in SETTING_LABELS if key in settings]
    pairs += [(label, manifest[key]) for key, label in RUN_LABELS if key in manifest]
    cohort = manifest.get("cohort")
    return _kv_table(pairs) + (cohort_html(cohort) if isinstance(cohort, Mapping) else "")


def table_html(table: FolderTable) -> str:
    """One table: heading, cells (as its Markdown shows them), notes; long ones folded."""
    limit = max(200, MAX_CELLS // max(len(table.columns), 1))
    shown = table.rows[:limit]
    cells = table.display[:limit] if table.display is not None else [
        tuple(_text(v) for v in row) for row in shown]
    head = "".join(f"<th>{escape(c)}</th>" for c in table.columns)
    body = []
    for row, texts in zip(shown, cells, strict=True):
        tds = "".join(
            f'<td class="num">{escape(t)}</td>' if isinstance(v, int | float)
            and not isinstance(v, bool) else f"<td>{escape(t)}</td>"
            for v, t in zip(row, texts, strict=True))
        body.append(f"<tr>{tds}</tr>")
    grid = (f'<div class="scroll"><table class="data" data-table="{escape(table.name)}">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>")
    more = len(table.rows) - len(shown)
    extra = (f'<p class="note">Showing the first {len(shown):,} of {len(table.rows):,} rows; '
             f"the full table is in {escape(table.name)}.csv.</p>" if more > 0 else "")
    if len(table.rows) > OPEN_ROWS:
        grid = f"<details><summary>Show {len(table.rows):,} rows</summary>{grid}</details>"
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in table.notes)
    return (f'<section id="table-{escape(table.name)}" class="table">'
            f"<h3>{escape(table.title)} <small>({escape(table.name)}.csv, "
            f"{len(table.rows):,} rows)</small></h3>{grid}{extra}{notes}</section>")


def key_columns(table: FolderTable, patterns: Sequence[str]) -> list[int]:
    """Indices of the columns the patterns pick, in pattern order, each once."""
    picked: list[int] = []
    for pattern in patterns:
        if pattern == "<grid>":
            end = table.columns.index("strategy") if "strategy" in table.columns else 0
            found = list(range(end))
        else:
            found = [j for j, c in enumerate(table.columns)
                     if fnmatchcase(c, pattern) and not c.endswith("_mcse")]
        picked += [j for j in found if j not in picked]
    return picked


def key_table_html(folder: ResultsFolder) -> str:
    """The key columns of the folder's main table, cells as its Markdown rounds them."""
    for name, patterns in KEY_TABLES:
        table = folder.tables.get(name)
        if table is None or not table.rows:
            continue
        cols = key_columns(table, patterns)
        cells = table.display if table.display is not None else [
            tuple(_text(v) for v in row) for row in table.rows]
        head = "".join(f"<th>{escape(table.columns[j])}</th>" for j in cols)
        strategy = table.columns.index("strategy") if "strategy" in table.columns else -1
        body = "".join(
            "<tr>" + "".join(
                f'<td class="num">{escape(texts[j])}</td>' if isinstance(row[j], int | float)
                and not isinstance(row[j], bool) else
                f"<td>{escape(folder.label(str(row[j])) if j == strategy else texts[j])}</td>"
                for j in cols) + "</tr>"
            for row, texts in zip(table.rows[:KEY_ROWS], cells[:KEY_ROWS], strict=False))
        more = (f" The first {KEY_ROWS} of {len(table.rows):,} rows."
                if len(table.rows) > KEY_ROWS else "")
        return (f'<div class="scroll"><table class="data key-table" data-key-table="{name}">'
                f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
                f'<p class="note">Key columns of <a href="#table-{name}">{escape(name)}.csv'
                f"</a>; money in {escape(folder.money_unit)}, costs and QALYs discounted."
                f"{more}</p>")
    return ""


def plot_html(plot: Plot) -> str:
    data = base64.b64encode(plot.png).decode("ascii")
    name = escape(plot.spec.name)
    return (f'<figure id="plot-{name}"><img src="data:image/png;base64,{data}" '
            f'alt="{escape(plot.spec.title)}" data-plot="{name}">'
            f"<figcaption><strong>{escape(plot.spec.title)}.</strong> "
            f"{escape(plot.spec.caption)} (Also plots/{name}.png and plots/{name}.svg.)"
            "</figcaption></figure>")


def plots_section(plots: Sequence[Plot], skipped: Sequence[Skipped]) -> str:
    parts = [plot_html(p) for p in plots]
    if not plots:
        parts.append("<p>No plot applies to the tables of this folder.</p>")
    if skipped:
        items = "".join(f"<li>{escape(s.spec.title)}: {escape(s.reason)}</li>" for s in skipped)
        parts.append(f'<details class="fold"><summary>Not drawn for this folder: {len(skipped)} '
                     f'plot(s), and why</summary><ul class="skipped">{items}</ul></details>')
    return "".join(parts)


def build_report(folder: ResultsFolder, plots: Sequence[Plot],
                 skipped: Sequence[Skipped] = ()) -> str:
    """The complete HTML page for ``folder`` with the rendered ``plots``."""
    settings, manifest = folder.settings, folder.manifest
    title = str(settings.get("title") or manifest.get("scenario_name") or folder.path.name)
    sentences = key_sentences(folder)
    key = "".join(
        f'<li class="{"warn" if s.startswith("Warning") else ""}">{escape(s)}</li>'
        for s in sentences) or ("<li>No summary table in this folder; see the key columns and "
                                "the tables below.</li>")
    tables = [t for name, t in folder.tables.items() if name != INPUTS_TABLE]
    inputs = folder.tables.get(INPUTS_TABLE)
    lead = (f"cartsim {_text(manifest.get('command'))} · scenario "
            f"{_text(manifest.get('scenario_name'))} · seed {_text(manifest.get('seed'))} · "
            f"{folder.money_unit} · created {_text(manifest.get('created'))}")
    return "".join([
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>cartsim report: {escape(title)}</title><style>{CSS}</style></head>\n<body><main>",
        f"<h1>{escape(title)}</h1><p class=\"lead\">{escape(lead)}</p>",
        '<nav><a href="#key-results">Key results</a><a href="#plots">Plots</a>'
        '<a href="#tables">Tables</a><a href="#inputs">Inputs</a>'
        '<a href="#settings">Settings</a><a href="#manifest">Manifest</a></nav>',
        f'<section id="key-results"><h2>Key results</h2><ul class="key">{key}</ul>',
        key_table_html(folder), warnings_html(manifest.get("warnings")), "</section>",
        f'<section id="plots"><h2>Plots</h2>{plots_section(plots, skipped)}</section>',
        '<section id="tables"><h2>Tables</h2>',
        "".join(table_html(t) for t in tables) or "<p>No tables.</p>", "</section>",
        '<section id="inputs"><h2>Inputs and sources</h2>',
        table_html(inputs) if inputs is not None else "<p>parameters.csv is not in this "
        "folder.</p>", "</section>",
        '<section id="settings"><h2>Run settings</h2><details class="fold"><summary>'
        f"Settings, cohort and warnings</summary>{settings_html(folder)}</details></section>",
        '<section id="manifest"><h2>Manifest (run.json)</h2><details class="fold"><summary>'
        "The full manifest: versions, sizes and the SHA-256 of every file</summary>"
        f"<pre>{escape(json.dumps(manifest, indent=2, sort_keys=True))}</pre></details>"
        "</section>",
        "</main></body></html>\n",
    ])
