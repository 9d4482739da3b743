"""The PSA checkpoint: completed draws, one JSON line each, safe to resume from.

``results/<name>.checkpoint.jsonl`` sits beside the results folder while a PSA
runs. The first line is a header naming the format, the canonical scenario
hash and the settings that determine every draw's result (seed, patients per
draw, engine, strategies); each further line is one finished draw. Lines are
appended and fsynced as draws finish, so after a crash or Ctrl-C the file lists
only completed draws, plus at most one torn last line (a write cut short: it
has no final newline), which resuming discards and reports.

Every record is bound to its run and its place: it carries its position
(``seq``, counting from 1 in the order written) and a SHA-256 over the
header's digest and its own content. A record copied from a run with another
seed or scenario (or under an edited header) fails its checksum; records moved
or repeated break the increasing positions or repeat a draw; either way
resuming is refused (exit 2) rather than merging draws of different runs. A
record missing from the middle (a gap in the positions) is a draw to compute
again, and resuming says so. A file that is not a cartsim checkpoint (a
pickle, say) is refused too: nothing is ever executed. JSON keeps
floats exact (shortest round-trip repr), so a resumed PSA writes the same
tables as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cartsim.errors import UsageError
from cartsim.study.psa import DrawResult

FORMAT = "cartsim-psa-checkpoint"
VERSION = 2
"""Version 2 binds each record to the header and to its position (version 1 did not)."""


def checkpoint_path(target: Path) -> Path:
    return target.parent / f"{target.name}.checkpoint.jsonl"


def _canonical(obj: Mapping[str, Any]) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _bound(header_digest: str, record: Mapping[str, Any]) -> str:
    """Digest of a record (with its position) bound to its run's header."""
    return hashlib.sha256(f"{header_digest}\n{_canonical(record)}".encode()).hexdigest()


def _header_digest(head: Mapping[str, Any]) -> str:
    return hashlib.sha256(_canonical(head).encode("utf-8")).hexdigest()


def _line(obj: Mapping[str, Any]) -> bytes:
    return (_canonical(obj) + "\n").encode("utf-8")


@dataclass(frozen=True)
class Resumable:
    """What a valid checkpoint holds: the finished draws, the byte length of its
    valid part, the header's digest and the last position written (where new
    records continue), and notes on what was discarded or is missing."""

    done: dict[int, DrawResult]
    valid_bytes: int
    header_digest: str
    last_seq: int
    note: str | None


class CheckpointWriter:
    """Appends finished draws, each bound to the header and numbered in order;
    every batch is flushed and fsynced."""

    def __init__(self, path: Path, header: Mapping[str, Any] | None = None,
                 resume: Resumable | None = None) -> None:
        self.path = path
        if resume is not None:
            with path.open("r+b") as fh:  # drop a torn last line before appending
                fh.truncate(resume.valid_bytes)
            self._header, self._seq = resume.header_digest, resume.last_seq
            return
        if header is None:
            msg = "a new checkpoint needs its header"
            raise ValueError(msg)
        head = {"format": FORMAT, "version": VERSION, **header}
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            fh.write(_line(head))
            fh.flush()
            os.fsync(fh.fileno())
        self._header, self._seq = _header_digest(head), 0

    def append(self, batch: list[DrawResult]) -> None:
        with self.path.open("ab") as fh:
            for r in batch:
                self._seq += 1
                record = {"seq": self._seq, "draw": r.draw, "means": r.means,
                          "qaly_var": r.qaly_var}
                fh.write(_line({**record, "sha256": _bound(self._header, record)}))
            fh.flush()
            os.fsync(fh.fileno())


def _refuse(path: Path, why: str) -> UsageError:
    return UsageError(f"{path} {why}; refusing to resume (delete it to start afresh)")


def _read_header(path: Path, first: bytes, header: Mapping[str, Any]) -> dict[str, Any]:
    try:
        head = json.loads(first.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise _refuse(path, "is not a cartsim checkpoint (unknown format)") from err
    if not isinstance(head, dict) or head.get("format") != FORMAT:
        raise _refuse(path, "is not a cartsim checkpoint (unknown format)")
    if head.get("version") != VERSION:
        raise _refuse(path, f"is a version {head.get('version')!r} checkpoint; this cartsim "
                      f"reads version {VERSION}")
    for key, value in header.items():
        if head.get(key) != value:
            msg = (f"{path} was written for a different run ({key}: {head.get(key)!r}, now "
                   f"{value!r}); refusing to mix draws of different configurations. Delete "
                   "the checkpoint or rerun with the original scenario and options.")
            raise UsageError(msg)
    return head


def read_checkpoint(path: Path, header: Mapping[str, Any]) -> Resumable:
    """The completed draws of a checkpoint written for ``header``.

    Raises UsageError (exit 2) on a foreign or damaged file, a header of another
    run, a record whose checksum fails (edited, or copied from another run) and
    records out of order or repeated. A last line without its newline — a write
    cut short by a crash — is discarded instead, and records missing from the
    middle are left to recompute; both are reported in the note.
    """
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    head = _read_header(path, lines[0], header)
    anchor = _header_digest(head)
    done: dict[int, DrawResult] = {}
    valid = len(lines[0]) + 1
    notes: list[str] = []
    last_seq = missing = 0
    body = lines[1:]
    for i, line in enumerate(body):
        if not line and i == len(body) - 1:
            break  # the file's final newline
        torn = i == len(body) - 1  # no newline after it: a write cut short
        try:
            rec = json.loads(line.decode("utf-8"))
            record = {k: rec[k] for k in ("seq", "draw", "means", "qaly_var")}
            ok = (rec.get("sha256") == _bound(anchor, record)
                  and type(record["draw"]) is int and type(record["seq"]) is int)
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            if torn:
                notes.append(f"discarded a damaged last record of {path.name} (line {i + 2})")
                break
            raise _refuse(path, f"is damaged at line {i + 2} (a record that fails its "
                          "checksum: edited, or from another run)")
        if record["seq"] <= last_seq or record["draw"] in done:
            raise _refuse(path, f"is damaged at line {i + 2} (records out of order or "
                          "repeated)")
        missing += record["seq"] - last_seq - 1
        last_seq = record["seq"]
        done[record["draw"]] = DrawResult(record["draw"], record["means"], record["qaly_var"])
        valid += len(line) + 1
    if missing:
        notes.append(f"{missing} record(s) missing from {path.name}: their draws are "
                     "computed again")
    return Resumable(done, min(valid, len(raw)), anchor, last_seq,
                     "; ".join(notes) or None)
