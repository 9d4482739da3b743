"""Small validators that collect problems instead of raising at the first one.

Every check takes the dotted path of the value it checks and appends a
:class:`~cartsim.errors.Problem` (path, what is wrong, the value, a hint) to a
:class:`Problems` list. The loader raises one ScenarioError with all of them.
TOML pitfalls handled here: ``nan``/``inf``/``1e400`` parse as floats, and
``true`` is an ``int`` subclass in Python; neither is ever a number to cartsim.
"""

from __future__ import annotations

import codecs
import difflib
import math
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cartsim.errors import Problem, ScenarioError


class Problems(list[Problem]):
    """A list of problems with helpers to add them."""

    def add(self, path: str, message: str, value: object = None, hint: str | None = None,
            *, has_value: bool = True) -> None:
        self.append(Problem(path, message, value, hint, has_value))

    def missing(self, path: str, what: str = "required") -> None:
        self.append(Problem(path, f"missing ({what})", None, None, has_value=False))


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def did_you_mean(key: str, allowed: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def unknown_keys(table: Mapping[str, Any], allowed: Iterable[str], path: str,
                 problems: Problems) -> None:
    """Report keys not in ``allowed``: a typo must never become a silent default."""
    allowed = list(allowed)
    for key in table:
        if key not in allowed:
            hint = did_you_mean(key, allowed) or f"allowed keys: {', '.join(sorted(allowed))}"
            problems.add(join(path, key), "unknown key", table[key], hint)


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


MAX_MAGNITUDE = 1e15
MIN_MAGNITUDE = 1e-12
"""Non-zero numbers are refused outside these sizes: beyond them a model's sums overflow
(a cost of 1e308) or a rate is zero in all but name (1e-320, whose inverse is inf)."""


def _as_float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except OverflowError:  # an integer of hundreds of digits
        return math.inf


def _shown(value: object) -> object:
    """A value as a message shows it: a huge integer by its size, not its 400 digits."""
    if isinstance(value, int) and abs(value) > 10**20:
        return f"an integer of {len(str(abs(value)))} digits"
    return value


def number(value: object, path: str, problems: Problems, *, low: float | None = None,
           high: float | None = None, low_open: bool = False, what: str = "a number",
           hint: str | None = None) -> float | None:
    """Validate a finite real number within bounds; returns it as float or None."""
    if isinstance(value, bool):
        problems.add(path, f"must be {what}, not a boolean", value)
        return None
    if isinstance(value, str):
        stripped = value.replace(",", "").replace("£", "").replace("$", "").replace("€", "")
        try:
            suggestion = float(stripped.strip().rstrip("%"))
            text = f"write a plain number without quotes, currency or separators: {suggestion:g}"
        except ValueError:
            text = "write a plain number without quotes"
        problems.add(path, f"must be {what}, not text", value, text)
        return None
    if not is_number(value):
        kind = "a table" if isinstance(value, dict) else type(value).__name__
        problems.add(path, f"must be {what}; got {kind}", value,
                     has_value=not isinstance(value, dict))
        return None
    x = _as_float(value)
    if not math.isfinite(x):
        problems.add(path, "must be finite (nan, inf and overflowing numbers such as 1e400 "
                     "are not allowed)", _shown(value))
        return None
    if abs(x) > MAX_MAGNITUDE or 0.0 < abs(x) < MIN_MAGNITUDE:
        problems.add(path, f"must be 0 or between {MIN_MAGNITUDE:g} and {MAX_MAGNITUDE:g} in "
                     "size (nothing a model needs lies outside, and sums of such numbers "
                     "overflow)", _shown(value), "write 0 for none")
        return None
    if low is not None and (x < low or (low_open and x == low)):
        bound = f"> {low:g}" if low_open else f">= {low:g}"
        problems.add(path, f"must be {bound}", value, hint)
        return None
    if high is not None and x > high:
        problems.add(path, f"must be <= {high:g}", value, hint)
        return None
    return x


def integer(value: object, path: str, problems: Problems, *, low: int | None = None,
            high: int | None = None) -> int | None:
    """An integer (``20000.0`` is accepted as 20000; ``2.5`` and ``true`` are not)."""
    if isinstance(value, bool) or not is_number(value):
        problems.add(path, "must be an integer", value)
        return None
    x = _as_float(value)
    if not math.isfinite(x):
        problems.add(path, "must be a finite whole number (nan, inf and overflowing numbers "
                     "are not allowed)", _shown(value))
        return None
    if x != math.floor(x):
        problems.add(path, "must be a whole number", value)
        return None
    n = int(x)
    if low is not None and n < low:
        problems.add(path, f"must be >= {low}", value)
        return None
    if high is not None and n > high:
        problems.add(path, f"must be <= {high:,} (a cap that protects memory)", value)
        return None
    return n


def text(value: object, path: str, problems: Problems, *, choices: Iterable[str] | None = None,
         max_len: int = 500) -> str | None:
    """A string label; never evaluated, only compared or printed."""
    if not isinstance(value, str):
        problems.add(path, "must be text (in quotes)", value)
        return None
    if len(value) > max_len:
        problems.add(path, f"must be at most {max_len} characters", value[:40] + "...")
        return None
    if choices is not None:
        choices = list(choices)
        if value not in choices:
            hint = did_you_mean(value, choices) or f"choose one of: {', '.join(choices)}"
            problems.add(path, f"must be one of {', '.join(choices)}", value, hint)
            return None
    return value


def name(value: object, path: str, problems: Problems) -> str | None:
    """An identifier: letters, digits and underscores, starting with a letter."""
    s = text(value, path, problems, max_len=64)
    if s is None:
        return None
    if not (s[:1].isalpha() and s.replace("_", "").isalnum() and s.isascii()):
        problems.add(path, "must be a name made of letters, digits and underscores", s)
        return None
    return s


def table(value: object, path: str, problems: Problems) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        problems.add(path, "must be a table", value)
        return None
    return value


UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
NUL = "\x00"
SAVE_AS_UTF8 = "save it as UTF-8 text (in Excel: Save As > CSV UTF-8)"


def _place(raw: bytes, offset: int) -> str:
    line = raw.count(b"\n", 0, offset) + 1
    column = offset - (raw.rfind(b"\n", 0, offset) + 1) + 1
    return f"line {line}, column {column}"


def read_text_file(path: Path, *, source: str, key: str, max_bytes: int) -> str:
    """The UTF-8 text of a file a scenario names, or a ScenarioError saying plainly why not.

    Every file cartsim reads from the user (scenario, cohort CSV, life table)
    comes through here, so each failure has one message: not found, a directory,
    not a regular file, too large, unreadable, not UTF-8 (with where), or binary
    (NUL bytes). ``source`` heads the error and ``key`` is the dotted key that
    names the file. A UTF-8 byte-order mark (as Excel writes) is accepted.
    """
    def refuse(message: str, value: object, hint: str | None = None) -> ScenarioError:
        return ScenarioError(source, [Problem(key, message, value, hint)])

    shown = str(path)
    try:
        info = path.stat()
    except FileNotFoundError as err:
        raise refuse("not found" if key == "file" else "file not found", shown,
                     f"looked for {path.absolute()}") from err
    except (OSError, ValueError) as err:  # ValueError: a NUL character in the name
        raise refuse(f"cannot be opened: {getattr(err, 'strerror', None) or err}",
                     shown) from err
    if stat.S_ISDIR(info.st_mode):
        raise refuse("is a directory, not a file", shown)
    if not stat.S_ISREG(info.st_mode):
        raise refuse("is not a regular file (a device, pipe or socket?)", shown)
    if info.st_size > max_bytes:
        raise refuse(f"is {info.st_size:,} bytes; the cap for this file is {max_bytes:,}",
                     shown)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise refuse(f"cannot read: {err.strerror or err}", shown) from err
    raw = raw.removeprefix(codecs.BOM_UTF8)
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        hint = ("it is UTF-16 text; " if raw.startswith(UTF16_BOMS) else "") + SAVE_AS_UTF8
        raise refuse(f"is not UTF-8 text (byte 0x{raw[err.start]:02x} at "
                     f"{_place(raw, err.start)})", shown, hint) from err
    if NUL in content:
        where = _place(raw, raw.index(NUL.encode()))
        raise refuse(f"contains a NUL byte at {where}: a binary file, not text", shown,
                     SAVE_AS_UTF8)
    return content
