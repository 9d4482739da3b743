"""How every command runs its study: ``execute`` and the error handling around it.

``execute(study, target, ...)`` does what each command used to repeat: check the
results folder (nothing is written if it exists without --overwrite), run the
study under progress bars on stderr, turn its result into files (tables as CSV and
Markdown, ``run.json``, the workbook with --xlsx), write them atomically under the
folder's lock, and print the summary and where it went. A command only loads its
scenario, calls ``execute`` with its study, and prints nothing else of its own.

Exit codes: 0 ok; 1 the run failed; 2 bad input or usage (nothing written); 130
interrupted. The cli package is the only code that prints.
"""

from __future__ import annotations

import io
import sys
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from cartsim.errors import CartsimError
from cartsim.report.atomic import (
    check_run_folder,
    discard_spooled,
    run_lock,
    write_file,
    write_run_folder,
)
from cartsim.report.xlsx import WORKBOOK, workbook_from_files

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

    from cartsim.report.folder import FolderFiles
    from cartsim.study.result import Tabled

R = TypeVar("R", bound="Tabled")
Bar = Callable[[int | None, str], AbstractContextManager[Any]]
"""``bar(length, label)``: a progress bar whose ``update(k)`` a study is handed as its
``progress`` callback (``length`` None: the work is not known in advance)."""
PROGRESS_ROWS = 100_000
"""Long tables (--trace) with at least this many rows are written under a progress bar."""


def _fail(err: BaseException, debug: bool) -> None:
    if debug:
        traceback.print_exc()
    if isinstance(err, KeyboardInterrupt):
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    if isinstance(err, CartsimError):
        click.echo(f"Error: {err}", err=True)
        sys.exit(err.exit_code)
    click.echo(f"Internal error: {type(err).__name__}: {err}\n"
               "(run again with --debug for the traceback, and please report it)", err=True)
    sys.exit(1)


def guarded(func: Callable[..., None]) -> Callable[..., None]:
    """Turn library errors into one clear message and an exit code."""
    def wrapper(*args: Any, **kwargs: Any) -> None:
        debug = bool(kwargs.get("debug"))
        try:
            func(*args, **kwargs)
        except (CartsimError, KeyboardInterrupt, Exception) as err:  # noqa: BLE001
            _fail(err, debug)
    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


def execute(study: Callable[[Bar], R], target: Path, *, overwrite: bool, quiet: bool,
            summary: Callable[[R], str], xlsx: bool = False, hold_lock: bool = False,
            after_write: Callable[[], None] | None = None) -> R:
    """Run ``study`` (handed a progress-bar factory) and write its results to ``target``.

    ``hold_lock`` holds the folder's lock while the study runs too (a PSA that
    checkpoints beside the folder); ``after_write`` runs once the folder is written,
    still under the lock. Returns the study's result (e.g. for an exit code).
    """

    def bar(length: int | None, label: str) -> ProgressBar[Any]:
        return progress_bar(length, label, quiet)

    if hold_lock:
        target.parent.mkdir(parents=True, exist_ok=True)
        with run_lock(target):
            check_run_folder(target, overwrite=overwrite)
            result = study(bar)
            count = _write(target, result, overwrite=overwrite, xlsx=xlsx, bar=bar)
            if after_write is not None:
                after_write()
    else:
        check_run_folder(target, overwrite=overwrite)
        result = study(bar)
        files = _files(result, bar, target)
        try:
            book = workbook_from_files(files) if xlsx else None
            with run_lock(target):
                count = _write_files(target, files, book, overwrite=overwrite)
        finally:
            discard_spooled(files)  # those not moved into the folder
    from cartsim.report.terminal import overrides_line

    echoed = overrides_line(result.manifest)
    print_summary(summary(result) + (f"\n\n{echoed}" if echoed else ""), count, target, quiet)
    return result


def _files(result: Tabled, bar: Bar, target: Path) -> FolderFiles:
    """The folder's files; a progress bar while long per-patient tables are written
    (the trace streamed to a hidden file beside ``target``, never held whole)."""
    from cartsim.report.folder import folder_files, long_table_rows

    rows = long_table_rows(result)
    if rows < PROGRESS_ROWS:
        return folder_files(result, spool=target.parent)
    with bar(rows, f"Writing {rows:,} rows of per-patient tables") as progress:
        return folder_files(result, progress.update, spool=target.parent)


def _write(target: Path, result: Tabled, *, overwrite: bool, xlsx: bool, bar: Bar) -> int:
    files = _files(result, bar, target)
    try:
        return _write_files(target, files, workbook_from_files(files) if xlsx else None,
                            overwrite=overwrite)
    finally:
        discard_spooled(files)  # those not moved into the folder


def _write_files(target: Path, files: FolderFiles, book: bytes | None, *,
                 overwrite: bool) -> int:
    write_run_folder(target, files, overwrite=overwrite)
    if book is not None:
        write_file(target / WORKBOOK, book)
    return len(files) + (book is not None)


def print_summary(summary: str, count: int, target: Path, quiet: bool) -> None:
    """The key results on stdout, then where they were written (nothing with --quiet)."""
    if not quiet:
        click.echo(summary)
        click.echo(f"\nWrote {count} files to {target}/")


def notice(text: str, quiet: bool) -> None:
    """A one-line note on stderr (what is being done), so stdout holds only results."""
    if not quiet:
        click.echo(text, err=True)


def progress_file(quiet: bool) -> Any:
    """Where progress bars go: stderr, or nowhere with --quiet."""
    return io.StringIO() if quiet else sys.stderr


def progress_bar(length: int | None, label: str, quiet: bool) -> ProgressBar[Any]:
    """A progress bar on stderr, advanced by ``bar.update(n)`` (pass ``bar.update`` as
    a study's ``progress`` callback); nothing with --quiet.

    Where stderr is not a terminal click prints only ``label``, once, so the label
    doubles as the notice of what is running. ``length`` None: the amount of work is
    not known in advance (a root search); the bar then counts steps instead.
    """
    if length is None:
        # A generator has no length, which is how click is told it is unknown.
        return click.progressbar((_ for _ in ()), label=label, show_pos=True,
                                 file=progress_file(quiet))
    return click.progressbar(length=length, label=label, file=progress_file(quiet))
