"""Crash-safe output: atomic files, atomic results folders and a run lock.

A results folder holds the previous or the new complete results, never a
mixture or a truncated file, even if cartsim is killed or the disk fills up:
everything is first written under a hidden name in the same directory, so the
final ``os.replace`` is a same-filesystem rename, which is atomic on POSIX.

Test-only fault injection: with ``CARTSIM_FAULT_INJECT=write:<name>`` in the
environment, :func:`write_run_folder` raises ``OSError("injected fault")`` (as
:class:`OutputError`) just before writing file ``<name>``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from cartsim.errors import CartsimError, UsageError

FAULT_ENV = "CARTSIM_FAULT_INJECT"


class OutputError(CartsimError):
    """Results could not be written (permissions, read-only or full disk)."""

    exit_code = 1


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable. Best effort: some platforms and
    # filesystems (Windows, certain network mounts) cannot open a directory.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    with contextlib.suppress(OSError):
        os.fsync(fd)
    os.close(fd)


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` (UTF-8, line endings untouched) to `path` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically (text as UTF-8, plots, workbooks).

    Writes a hidden ``.{name}.<hex>.tmp`` in the same directory, fsyncs it,
    ``os.replace``-s it onto `path`, then fsyncs the directory (best effort).

    Parameters
    ----------
    path : Path
        Final file name; its directory must exist.
    data : bytes
        Complete file content.

    Raises
    ------
    OSError
        As raised by the OS; the temp file is removed, an old `path` unchanged.
    """
    path = Path(path)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
    # O_EXCL: never clobber another writer's file. Mode 0o666 lets the umask
    # decide permissions, as for any normally created file (mkstemp uses 0o600).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        # Bytes as given, so "\n" stays "\n" on every platform (hashes must match).
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
    except BaseException:
        # BaseException too: a Ctrl-C mid-write must not leave debris behind.
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


@dataclass(frozen=True)
class SpooledFile:
    """A file already written (by :func:`spool_file`) under a hidden temporary name
    beside the results folder, so that its content never sits in memory whole:
    :func:`write_run_folder` renames it into place; :func:`discard_spooled` removes it
    if the folder is never written."""

    path: Path
    sha256: str
    """Of the bytes written, for the manifest."""


def spool_file(directory: Path, name: str, pieces: Iterable[str]) -> SpooledFile:
    """Write ``pieces`` (text, as UTF-8) one after another to a hidden temporary file in
    ``directory`` (created if missing), hashing them as they are written; fsynced.
    On any error the file is removed; the OS refusing (full disk, permissions) is an
    :class:`OutputError` naming the file."""
    tmp = directory / f".{PurePosixPath(name).name}.{secrets.token_hex(8)}.tmp"
    digest = hashlib.sha256()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as handle:
            for piece in pieces:
                data = piece.encode("utf-8")
                digest.update(data)
                handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            msg = f"could not write {name} (streamed to {tmp}): {exc}"
            raise OutputError(msg) from exc
        raise
    return SpooledFile(tmp, digest.hexdigest())


def discard_spooled(files: Mapping[str, object]) -> None:
    """Remove the spooled files of ``files`` still waiting (after a failure; those
    already moved into a results folder are gone from their temporary names)."""
    for content in files.values():
        if isinstance(content, SpooledFile):
            content.path.unlink(missing_ok=True)


def _check_relative_name(name: str) -> PurePosixPath:
    rel = PurePosixPath(name)
    if "\\" in name or rel.is_absolute() or not rel.parts or ".." in rel.parts:
        raise ValueError(
            f"output file name {name!r} must be relative, inside the folder"
        )
    return rel


def check_run_folder(target: Path, *, overwrite: bool) -> None:
    """Raise UsageError if `target` exists and `overwrite` is false.

    Cheap, so the CLI can call it before a long simulation, not only at write time.
    A `target` that is not a folder is always refused: it is not earlier results.
    """
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise UsageError(f"results path {target} is not a folder; use --out")
    if target.exists() and not overwrite:
        raise UsageError(
            f"results folder {target} exists; use --overwrite to replace it or --out to "
            "choose another"
        )


def write_run_folder(
    target: Path, files: Mapping[str, str | bytes | SpooledFile], *, overwrite: bool
) -> None:
    """Write a complete results folder atomically, replacing `target` if allowed.

    Files go to a hidden staging folder next to `target`, are fsynced, and are
    swapped in by renames (``target -> .{name}.old-*``, ``staging -> target``,
    delete old). On failure staging is removed and the old folder restored.

    Parameters
    ----------
    target : Path
        The results folder. Its parent is created if missing.
    files : Mapping[str, str | bytes | SpooledFile]
        Relative ``/``-separated name (e.g. ``"trace/patients.csv"``) -> text
        (written as UTF-8), bytes (e.g. a plot) or a file already spooled beside
        `target` (:func:`spool_file`; renamed into place, removed on failure).
    overwrite : bool
        Whether an existing `target` may be replaced.

    Raises
    ------
    UsageError
        Before anything is written, if `target` exists and `overwrite` is false.
    OutputError
        If the OS refuses (permissions, read-only or full disk); the message
        names the path and the OS error. Earlier results are left intact.
    ValueError
        If a file name is absolute or leaves the folder.
    """
    target = Path(target)
    names = [(name, _check_relative_name(name)) for name in files]
    check_run_folder(target, overwrite=overwrite)
    parent = target.parent
    tag = f"{os.getpid()}-{secrets.token_hex(4)}"
    staging = parent / f".{target.name}.tmp-{tag}"
    old = parent / f".{target.name}.old-{tag}"
    moved_old = False
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir()
        fault = os.environ.get(FAULT_ENV, "")
        for name, rel in names:
            if fault == f"write:{name}":
                raise OSError("injected fault")
            dest = staging.joinpath(*rel.parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            content = files[name]
            if isinstance(content, SpooledFile):
                content.path.replace(dest)
            else:
                atomic_write_bytes(dest, content if isinstance(content, bytes)
                                   else content.encode("utf-8"))
        # Subfolder entries must be durable before the folder becomes visible.
        for directory, _, _ in os.walk(staging, topdown=False):
            _fsync_dir(Path(directory))
        if target.exists():
            target.replace(old)
            moved_old = True
        staging.replace(target)  # the commit point: nothing after it can fail
    except BaseException as exc:
        kept = "; previous results unchanged" if target.exists() or moved_old else ""
        if moved_old:
            try:
                old.replace(target)
            except OSError:  # never lose them silently: say where they are
                kept = f"; previous results are in {old}"
        shutil.rmtree(staging, ignore_errors=True)
        discard_spooled(files)
        if not isinstance(exc, OSError):
            raise
        message = f"could not write results folder {target}: {exc}{kept}"
        raise OutputError(message) from exc
    _fsync_dir(parent)
    if moved_old:
        try:
            shutil.rmtree(old)
        except OSError as exc:
            # The new results are complete and in place; a leftover hidden folder
            # is untidy but must not turn a successful run into a failure.
            message = f"could not remove previous results {old}: {exc}"
            warnings.warn(message, RuntimeWarning, stacklevel=2)


def _pid_alive(pid: int) -> bool:
    if os.name == "nt":
        # os.kill on Windows terminates the process; cannot probe safely, so
        # assume the owner is alive and let the user delete a stale lock.
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # e.g. EPERM: the process exists but belongs to someone else
    return True


def _read_lock_pid(lock: Path) -> int | None:
    try:
        return int(lock.read_text(encoding="ascii").strip())
    except (OSError, ValueError, UnicodeDecodeError):
        return None


@contextlib.contextmanager
def run_lock(target: Path) -> Iterator[Path]:
    """Hold an exclusive lock on results folder `target` for the ``with`` block.

    The lock file ``.{name}.lock`` beside `target` (parent created if missing)
    is made with ``O_CREAT | O_EXCL`` and holds the owner's pid. A lock whose pid
    is not running (a crashed run) is taken over. It is removed on exit, also
    when the block raises.

    Parameters
    ----------
    target : Path
        The results folder to protect.

    Yields
    ------
    Path
        The lock file.

    Raises
    ------
    UsageError
        If a live process (this one included) holds the lock.
    OutputError
        If the lock file cannot be created (e.g. read-only directory).
    """
    target = Path(target)
    lock = target.parent / f".{target.name}.lock"
    unreadable_tries = 0
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        while True:
            try:
                fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                pid = _read_lock_pid(lock)
                if pid is None and unreadable_tries < 20:
                    # Possibly created by a run that has not yet written its pid.
                    unreadable_tries += 1
                    time.sleep(0.05)
                    continue
                if pid is not None and _pid_alive(pid):
                    raise UsageError(
                        f"another cartsim run is writing {target} (lock file {lock}, pid {pid}); "
                        "if no such run is active, delete the lock file"
                    ) from None
                # Stale. Re-check just before removing to narrow the window in
                # which two runs could both take over the same stale lock.
                if _read_lock_pid(lock) == pid:
                    lock.unlink(missing_ok=True)
                unreadable_tries = 0  # a new lock deserves the same patience
                continue
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(f"{os.getpid()}\n")
            break
    except OSError as exc:
        raise OutputError(f"could not create lock file {lock}: {exc}") from exc
    try:
        yield lock
    finally:
        # Only remove our own lock, never one another run has since taken over.
        if _read_lock_pid(lock) == os.getpid():
            lock.unlink(missing_ok=True)


def write_file(path: Path, content: str | bytes) -> None:
    """Write one file atomically (text as UTF-8); OutputError naming it if the OS refuses."""
    try:
        if isinstance(content, bytes):
            atomic_write_bytes(path, content)
        else:
            atomic_write_text(path, content)
    except OSError as err:
        msg = f"could not write {path}: {err}"
        raise OutputError(msg) from err
