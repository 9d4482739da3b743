"""The files of any results folder: every table of a study result as CSV and Markdown,
then its manifest, ``run.json``.

Every command writes its folder from here, so every manifest records a study the
same way: the study's own part (:class:`~cartsim.study.result.Manifest`: what was
run, on what, how big) plus the software versions, the git commit, the time and the
SHA-256 of every file, so every table can be traced and reproduced.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import math
import platform
import subprocess
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from cartsim.report.atomic import SpooledFile, discard_spooled, spool_file
from cartsim.report.render import column_csv_chunks, table_to_csv, table_to_markdown
from cartsim.study.result import Tabled
from cartsim.table import BlockTable, ColumnTable

FolderFiles = dict[str, str | SpooledFile]
"""File name -> text, or a file already spooled to disk (a long table)."""


def folder_files(result: Tabled, progress: Callable[[int], None] | None = None,
                 spool: Path | None = None) -> FolderFiles:
    """File name -> content: each table as CSV and (unless too long to read) Markdown,
    then ``run.json`` from the result's manifest. ``progress(rows)`` as the rows of long
    (column) tables are written: see :func:`long_table_rows`. With ``spool`` (the folder
    beside which the results will be written) a long table (patients, trace) is
    streamed into a hidden file there, hashed as it is written, never held whole in
    memory (:class:`~cartsim.report.atomic.SpooledFile`); without, it is text too.

    >>> from cartsim.scenario.load import example_scenario
    >>> from cartsim.study.run import run
    >>> files = folder_files(run(example_scenario(), patients=100))
    >>> list(files)[:2], list(files)[-1]
    (['summary.csv', 'summary.md'], 'run.json')
    """
    if result.manifest is None:
        msg = f"this {type(result).__name__} has no manifest: write the result of a study"
        raise ValueError(msg)
    files: FolderFiles = {}
    try:
        for table in result.all_tables:
            name = f"{table.name}.csv"
            if spool is not None and isinstance(table, ColumnTable | BlockTable):
                files[name] = spool_file(spool, name, column_csv_chunks(table, progress))
            else:
                files[name] = table_to_csv(table, progress)
            if table.markdown:
                files[f"{table.name}.md"] = table_to_markdown(table)
        m = result.manifest
        manifest = build_manifest(
            command=m.command, scenario_name=m.scenario_name, scenario_hash=m.scenario_hash,
            seed=m.seed, sizes=m.sizes, engine=m.engine, settings=m.settings, files=files,
            extra=m.extra)
    except BaseException:
        discard_spooled(files)
        raise
    files["run.json"] = manifest_to_json(manifest)
    return files


def long_table_rows(result: Tabled) -> int:
    """Rows of the result's column tables (a run's patients and trace), whose writing
    the CLI shows with a progress bar."""
    return sum(len(t.rows) for t in result.all_tables
               if isinstance(t, ColumnTable | BlockTable))


def sha256_text(text: str) -> str:
    """Return the hex SHA-256 of `text` encoded as UTF-8, i.e. of the file written."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _dist_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    """HEAD of the checkout cartsim runs from, or None if not a git checkout."""
    package_dir = Path(__file__).resolve().parent.parent
    command = ["git", "rev-parse", "--show-toplevel", "HEAD"]
    try:
        done = subprocess.run(
            command, cwd=package_dir, capture_output=True, timeout=2, check=False
        )
        out = done.stdout.decode("utf-8").splitlines()
    except (OSError, subprocess.SubprocessError, UnicodeDecodeError):
        return None
    if done.returncode != 0 or len(out) != 2:
        return None
    top, commit = Path(out[0]).resolve(), out[1]
    # An installed copy inside some unrelated repository (a venv in a project
    # folder) must not report that repository's commit.
    return commit if package_dir.parent in (top, top / "src") else None


def _jsonable(value: object, where: str) -> object:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"manifest field {where} is {value!r}; JSON cannot hold it")
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist(), where)
    if isinstance(value, Path):
        return value.as_posix()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise TypeError(f"manifest field {where}: {type(value).__name__} is not JSON")


def build_manifest(
    *,
    command: str,
    scenario_name: str,
    scenario_hash: str,
    seed: int,
    sizes: Mapping[str, int],
    engine: str,
    settings: Mapping[str, object],
    files: Mapping[str, str | SpooledFile],
    extra: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """Describe a run well enough to reproduce it and to verify its files.

    Parameters
    ----------
    command, scenario_name, scenario_hash, seed, sizes, engine, settings
        Recorded as given (numpy scalars, tuples and Paths made JSON-friendly).
    files : Mapping[str, str | SpooledFile]
        Relative name -> content of each output file except the manifest;
        recorded as name -> SHA-256 of the UTF-8 content (of a spooled file: the
        hash of the bytes written).
    extra : Mapping[str, object], optional
        Further top-level fields; must not reuse a standard key.

    Returns
    -------
    dict
        Versions (``cartsim_version``, ``python``, ``numpy``, ``scipy``,
        ``simpy``, ``click``; None if absent), ``git_commit``, ``platform``, the
        inputs above and ``created`` (UTC ISO time; the only time-dependent field).

    Raises
    ------
    ValueError
        If `extra` reuses a standard key, or a float is nan or infinite.
    TypeError
        If a value cannot be represented in JSON.
    """
    manifest: dict[str, object] = {
        "cartsim_version": _dist_version("cartsim") or "unknown",
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        **{name: _dist_version(name) for name in ("numpy", "scipy", "simpy", "click",
                                                  "numba")},
        "platform": platform.platform(),
        "command": command,
        "scenario_name": scenario_name,
        "scenario_hash": scenario_hash,
        "seed": int(seed),
        "sizes": {str(k): int(v) for k, v in sizes.items()},
        "engine": engine,
        "settings": _jsonable(settings, "settings"),
        "files": {name: text.sha256 if isinstance(text, SpooledFile) else sha256_text(text)
                  for name, text in files.items()},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    for key, value in (extra or {}).items():
        if key in manifest:
            raise ValueError(
                f"manifest extra field {key!r} clashes with a standard one"
            )
        manifest[key] = _jsonable(value, key)
    return manifest


def manifest_to_json(manifest: Mapping[str, object]) -> str:
    """Serialise a manifest: sorted keys, 2-space indent, trailing newline.

    Raises
    ------
    ValueError
        If any float is nan or infinite (strict JSON has no such values).
    """
    text = json.dumps(manifest, sort_keys=True, indent=2, allow_nan=False)
    return text + "\n"
