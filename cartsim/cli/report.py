"""`cartsim report`: an HTML report (and optionally a workbook) of a results folder,
and the ``--xlsx`` option that `run` and `psa` share. No study runs: the report
reads a folder that a study wrote. The command line's view of :mod:`cartsim.report`."""

from __future__ import annotations

from pathlib import Path

import click

from cartsim.cli.execute import guarded, progress_bar
from cartsim.cli.options import debug_option, quiet_option
from cartsim.errors import UsageError
from cartsim.report.atomic import run_lock, write_file, write_run_folder
from cartsim.report.xlsx import WORKBOOK, require_openpyxl, workbook_bytes

REPORT = "report.html"


def _check_openpyxl(_ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    # At parse time, so a missing extra is reported before a long simulation.
    if value:
        try:
            require_openpyxl()
        except UsageError as err:
            raise click.BadParameter(str(err)) from None
    return value


xlsx_option = click.option(
    "--xlsx", is_flag=True, callback=_check_openpyxl,
    help=f"Also write {WORKBOOK}: a sheet per table, the inputs and the manifest "
         "(needs pip install 'cartsim[xlsx]').")


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
    from cartsim.report.folder_reader import read_results_folder

    # matplotlib takes about 0.4 s to import: only this command pays for it.
    from cartsim.report.html import build_report
    from cartsim.report.html_words import key_sentences
    from cartsim.report.plots import PLOTS, PLOTS_FOLDER, plot_files, render_plots

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
        write_file(page_path, page)
        if book is not None:
            write_file(results_dir / WORKBOOK, book)
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
