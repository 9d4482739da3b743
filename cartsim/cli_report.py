"""`cartsim report`: an HTML report (and optionally a workbook) of a results folder,
and the ``--xlsx`` option that `run` and `psa` share."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import click

from cartsim.cli_common import debug_option, guarded, progress_bar, quiet_option
from cartsim.errors import UsageError

# The report's modules (numpy, matplotlib) are imported when a command runs, so that
# `cartsim --help` stays quick.

REPORT = "report.html"


def _check_openpyxl(_ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    # At parse time, so a missing extra is reported before a long simulation.
    if value:
        from cartsim.report.xlsx import require_openpyxl

        try:
            require_openpyxl()
        except UsageError as err:
            raise click.BadParameter(str(err)) from None
    return value


xlsx_option = click.option(
    "--xlsx", is_flag=True, callback=_check_openpyxl,
    help="Also write results.xlsx: a sheet per table, the inputs and the manifest "
         "(needs pip install 'cartsim[xlsx]').")


def workbook_for(files: Mapping[str, str], xlsx: bool) -> bytes | None:
    """The workbook of a results folder about to be written, if --xlsx was given."""
    from cartsim.report.xlsx import workbook_from_files

    return workbook_from_files(files) if xlsx else None


def write_workbook(folder: Path, book: bytes | None) -> None:
    """Write ``folder/results.xlsx`` atomically (nothing if ``book`` is None)."""
    from cartsim.report.xlsx import WORKBOOK

    if book is not None:
        _write(folder / WORKBOOK, book)


def _write(path: Path, content: str | bytes) -> None:
    from cartsim.report.files import OutputError, atomic_write_bytes, atomic_write_text

    try:
        if isinstance(content, bytes):
            atomic_write_bytes(path, content)
        else:
            atomic_write_text(path, content)
    except OSError as err:
        msg = f"could not write {path}: {err}"
        raise OutputError(msg) from err


@click.command()
@click.argument("results_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=f"The HTML file (default: RESULTS_DIR/{REPORT}).")
@xlsx_option
@click.option("--overwrite", is_flag=True,
              help="Replace an existing report, plots folder and workbook.")
@quiet_option
@debug_option
@guarded
def report(results_dir: Path, out: Path | None, xlsx: bool, overwrite: bool, quiet: bool,
           debug: bool) -> None:
    """Write one self-contained HTML report of a results folder: settings, key results in
    words, every plot and table, the inputs with their sources, and the manifest.

    Plots go to RESULTS_DIR/plots/ as PNG and SVG; a plot whose tables the folder lacks
    is skipped and the report says why.

    \b
    Examples:
      cartsim report results/base
      cartsim report results/base_psa --xlsx
      cartsim report results/base --out base-report.html --overwrite
    """
    # matplotlib takes about 0.4 s to import: only this command pays for it.
    from cartsim.report.files import run_lock, write_run_folder
    from cartsim.report.html import build_report
    from cartsim.report.html_words import key_sentences
    from cartsim.report.plots import PLOTS, PLOTS_FOLDER, plot_files, render_plots
    from cartsim.report.plots_data import read_results_folder
    from cartsim.report.xlsx import WORKBOOK, workbook_bytes

    if not results_dir.is_dir():
        msg = f"results folder {results_dir} does not exist or is not a folder"
        raise UsageError(msg)
    page_path = out if out is not None else results_dir / REPORT
    plots_dir = results_dir / PLOTS_FOLDER
    if page_path.is_dir():
        msg = f"--out {page_path} is a folder; give a file name such as report.html"
        raise UsageError(msg)
    with run_lock(results_dir):
        folder = read_results_folder(results_dir)
        targets = [page_path, plots_dir, *([results_dir / WORKBOOK] if xlsx else [])]
        existing = [str(p) for p in targets if p.exists()]
        if existing and not overwrite:
            msg = f"{', '.join(existing)} already exist(s); use --overwrite to replace"
            raise UsageError(msg)
        with progress_bar(len(PLOTS), f"Drawing up to {len(PLOTS)} plots", quiet) as bar:
            plots, skipped = render_plots(folder, progress=bar.update)
        page = build_report(folder, plots, skipped)
        book = workbook_bytes(folder.tables, folder.manifest) if xlsx else None
        if plots or plots_dir.exists():
            write_run_folder(plots_dir, plot_files(plots), overwrite=True)
        page_path.parent.mkdir(parents=True, exist_ok=True)
        _write(page_path, page)
        write_workbook(results_dir, book)
    if not quiet:
        click.echo("\n".join(key_sentences(folder)) or "(no summary table in this folder)")
        if skipped:
            click.echo(f"Not drawn ({len(skipped)}; the report says why): "
                       + ", ".join(s.spec.name for s in skipped))
        click.echo(f"\nWrote {page_path} ({_count(len(plots), 'plot')}, "
                   f"{_count(len(folder.tables), 'table')})"
                   + (f", {len(plots) * 2} files in {plots_dir}/" if plots else "")
                   + (f" and {results_dir / WORKBOOK}" if book is not None else ""))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
