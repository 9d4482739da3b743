"""The PSA checkpoint: completed draws, one JSON line each, safe to resume from.

``results/<name>.checkpoint.jsonl`` sits beside the results folder while a PSA
runs. The first line is a header naming the format, the canonical scenario
hash and the settings that determine every draw's result (seed, patients per
draw, engine, strategies); each further line is one finished draw with a
SHA-256 of its own content. Lines are appended and fsynced as draws finish, so
after a crash or Ctrl-C the file lists only completed draws, plus at most one
torn last line, which resuming discards (and says so). A checkpoint written
for other settings, a damaged line in the middle, or a file that is not a
cartsim checkpoint (a pickle, say) is refused: nothing is ever executed or
silently merged. JSON keeps floats exact (shortest round-trip repr), so a
resumed PSA writes the same tables as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cartsim.errors import UsageError
from cartsim.psa import DrawResult

FORMAT = "cartsim-psa-checkpoint"
VERSION = 1


def checkpoint_path(target: Path) -> Path:
    return target.parent / f"{target.name}.checkpoint.jsonl"


def _digest(record: Mapping[str, Any]) -> str:
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _line(obj: Mapping[str, Any]) -> bytes:
    return (json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)
            + "\n").encode("utf-8")


class CheckpointWriter:
    """Appends finished draws; every batch is flushed and fsynced."""

    def __init__(self, path: Path, header: Mapping[str, Any] | None, keep_bytes: int = 0):
        self.path = path
        if header is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as fh:
                fh.write(_line({"format": FORMAT, "version": VERSION, **header}))
                fh.flush()
                os.fsync(fh.fileno())
        else:
            with path.open("r+b") as fh:  # drop a torn last line before appending
                fh.truncate(keep_bytes)

    def append(self, batch: list[DrawResult]) -> None:
        with self.path.open("ab") as fh:
            for r in batch:
                record = {"draw": r.draw, "means": r.means, "qaly_var": r.qaly_var}
                fh.write(_line({**record, "sha256": _digest(record)}))
            fh.flush()
            os.fsync(fh.fileno())


def read_checkpoint(path: Path, header: Mapping[str, Any]
                    ) -> tuple[dict[int, DrawResult], int, str | None]:
    """Completed draws, the byte length of the valid part, and a note if a torn
    last line was discarded. Raises UsageError (exit 2) on any mismatch or damage."""
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    try:
        head = json.loads(lines[0].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        msg = (f"{path} is not a cartsim checkpoint (unknown format); refusing to resume. "
               "Delete it to start afresh.")
        raise UsageError(msg) from err
    if not isinstance(head, dict) or head.get("format") != FORMAT:
        msg = f"{path} is not a cartsim checkpoint (unknown format); refusing to resume"
        raise UsageError(msg)
    for key, value in header.items():
        if head.get(key) != value:
            msg = (f"{path} was written for a different run ({key}: {head.get(key)!r}, now "
                   f"{value!r}); refusing to mix draws of different configurations. Delete "
                   "the checkpoint or rerun with the original scenario and options.")
            raise UsageError(msg)
    done: dict[int, DrawResult] = {}
    valid = len(lines[0]) + 1
    note = None
    body = lines[1:]
    for i, line in enumerate(body):
        if not line:
            continue
        last = all(not rest for rest in body[i + 1:])
        try:
            rec = json.loads(line.decode("utf-8"))
            record = {k: rec[k] for k in ("draw", "means", "qaly_var")}
            ok = rec.get("sha256") == _digest(record) and isinstance(rec["draw"], int)
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
            ok = False
        if not ok:
            if last:
                note = f"discarded a damaged last record of {path.name} (line {i + 2})"
                break
            msg = (f"{path} is damaged at line {i + 2}; refusing to resume (delete it to "
                   "start afresh)")
            raise UsageError(msg)
        done[rec["draw"]] = DrawResult(rec["draw"], rec["means"], rec["qaly_var"])
        valid += len(line) + 1
    return done, min(valid, len(raw)), note
