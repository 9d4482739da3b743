"""The files of any results folder: every table of a study result as CSV and
Markdown, then ``run.json``.

Every command writes its folder from here, so every manifest records a study the
same way: the study's own part (:class:`~cartsim.study.result.Manifest`) plus the
software versions, the time and the SHA-256 of every file.
"""

from __future__ import annotations

from cartsim.report.manifest import build_manifest, manifest_to_json
from cartsim.report.render import table_to_csv, table_to_markdown
from cartsim.study.result import Tabled


def folder_files(result: Tabled) -> dict[str, str]:
    """File name -> content: each table as CSV and (unless too long to read) Markdown,
    then ``run.json`` from the result's manifest.

    >>> from cartsim.scenario.load import example_scenario
    >>> from cartsim.study.run import run
    >>> files = folder_files(run(example_scenario(), patients=100))
    >>> list(files)[:2], list(files)[-1]
    (['summary.csv', 'summary.md'], 'run.json')
    """
    if result.manifest is None:
        msg = f"this {type(result).__name__} has no manifest: write the result of a study"
        raise ValueError(msg)
    files: dict[str, str] = {}
    for table in result.all_tables:
        files[f"{table.name}.csv"] = table_to_csv(table)
        if table.markdown:
            files[f"{table.name}.md"] = table_to_markdown(table)
    m = result.manifest
    manifest = build_manifest(
        command=m.command, scenario_name=m.scenario_name, scenario_hash=m.scenario_hash,
        seed=m.seed, sizes=m.sizes, engine=m.engine, settings=m.settings, files=files,
        extra=m.extra)
    files["run.json"] = manifest_to_json(manifest)
    return files
