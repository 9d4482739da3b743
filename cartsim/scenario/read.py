"""Read a scenario file and the chain of files it extends, refusing what cannot be read.

Every refusal is a ScenarioError naming the file and the key: the file too large,
not UTF-8, binary, a directory or unreadable; TOML syntax (line and column, and
the key of a duplicate); nesting deeper than :data:`MAX_NESTING` (arrays in
arrays, or dotted keys of many parts, which would otherwise exhaust Python's
stack further on); an ``extends`` chain longer than :data:`MAX_EXTENDS` files or
circular. The chain is followed iteratively and merged by the rules of
:mod:`cartsim.scenario.merge`.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from cartsim.checks import read_text_file
from cartsim.errors import Problem, ScenarioError
from cartsim.scenario.merge import MergeNote, Merger

MAX_FILE_BYTES = 1_000_000
MAX_NESTING = 24
"""Levels of tables and arrays in a scenario; the deepest real entry
(``strategies.s.states.x.transitions.t.rate.value``) has 7."""
MAX_EXTENDS = 16
"""Files in one ``extends`` chain, the named file included."""


def _duplicate_key_hint(message: str, text_: str) -> str:
    """Python 3.11's duplicate-key message names no key; find it ourselves."""
    seen: dict[tuple[str, str], int] = {}
    section = ""
    for line_no, line in enumerate(text_.splitlines(), start=1):
        stripped = line.split("#", 1)[0].strip()
        if stripped.startswith("["):
            section = stripped.strip("[]").strip().replace('"', "").replace("'", "")
            continue
        if "=" in stripped:
            key = stripped.split("=", 1)[0].strip().strip("\"'")
            if (section, key) in seen:
                where = f"{section}.{key}" if section else key
                return (f"{message}; duplicate key '{where}' on line {line_no} "
                        f"(first on line {seen[(section, key)]})")
            seen[(section, key)] = line_no
    return message


def _too_deep(where: str) -> str:
    return (f"{where} nests arrays or tables more than {MAX_NESTING} levels deep "
            "(a scenario needs fewer than 10)")


def parse_toml(content: str, source: str) -> dict[str, Any]:
    """TOML text -> tables, or a ScenarioError with line and column (never a crash)."""
    try:
        raw = tomllib.loads(content)
    except tomllib.TOMLDecodeError as err:
        msg = _duplicate_key_hint(str(err), content) if "overwrite" in str(err) else str(err)
        raise ScenarioError(source, [Problem("TOML syntax", msg, None, has_value=False)]) \
            from err
    except RecursionError as err:
        # tomllib recurses once per nested array or inline table; find the line.
        line = next((n for n, text_ in enumerate(content.splitlines(), start=1)
                     if text_.count("[") + text_.count("{") > MAX_NESTING), None)
        key = content.splitlines()[line - 1].split("=", 1)[0].strip()[:60] if line else ""
        where = f"line {line} (key {key!r})" if line else "the file"
        raise ScenarioError(source, [Problem(key or "TOML syntax", _too_deep(where), None,
                                             has_value=False)]) from err
    check_nesting(raw, source)
    return raw


def check_nesting(raw: dict[str, Any], source: str) -> None:
    """Refuse tables nested deeper than MAX_NESTING, naming the key path (iteratively:
    the point is not to recurse on what might be thousands of levels)."""
    todo: list[tuple[Any, tuple[str, ...]]] = [(raw, ())]
    while todo:
        node, parts = todo.pop()
        if len(parts) > MAX_NESTING:
            shown = ".".join(parts[:6]) + f"... ({len(parts)}+ levels)"
            raise ScenarioError(source, [Problem(shown, _too_deep("this key"), None,
                                                 has_value=False)])
        if isinstance(node, dict):
            todo += [(v, (*parts, str(k)[:40])) for k, v in node.items()]
        elif isinstance(node, list):
            todo += [(v, (*parts, str(i))) for i, v in enumerate(node)]


def read_toml(path: Path, *, named_by: tuple[str, str] | None = None) -> dict[str, Any]:
    """Parse one scenario file. ``named_by`` = (file, key) that names it (``extends``),
    so that a missing or unreadable parent is reported where it is named."""
    source, key = named_by if named_by is not None else (str(path), "file")
    content = read_text_file(path, source=source, key=key, max_bytes=MAX_FILE_BYTES)
    return parse_toml(content, str(path))


def _parent_name(raw: dict[str, Any], path: Path) -> str | None:
    parent = raw.pop("extends", None)
    if parent is None:
        return None
    if not isinstance(parent, str) or not parent.strip() or len(parent) > 300:
        raise ScenarioError(str(path), [Problem(
            "extends", "must be the name of a scenario file (text, at most 300 characters)",
            parent if not isinstance(parent, str) else parent[:60])])
    return parent


def read_with_extends(path: Path) -> tuple[dict[str, Any], dict[str, MergeNote]]:
    """The file merged over everything it extends, and the notes for merge warnings.

    The chain is read from the named file up to its root, then merged root first.
    """
    chain: list[tuple[Path, dict[str, Any]]] = []
    seen: list[Path] = []
    current, named_by = path, None
    while True:
        raw = read_toml(current, named_by=named_by)
        resolved = current.resolve()
        if resolved in seen:
            cycle = " -> ".join(p.name for p in (*seen, resolved))
            raise ScenarioError(str(chain[-1][0]), [Problem(
                "extends", f"circular extends: {cycle}", None, has_value=False)])
        seen.append(resolved)
        chain.append((current, raw))
        parent = _parent_name(raw, current)
        if parent is None:
            break
        if len(chain) >= MAX_EXTENDS:
            raise ScenarioError(str(path), [Problem(
                "extends", f"the chain of files extending one another is longer than "
                f"{MAX_EXTENDS} (reached {current.name} -> {parent})", None,
                "merge some of the intermediate files", has_value=False)])
        named_by = (str(current), "extends")
        current = resolved.parent / parent
    merged = chain[-1][1]
    notes: dict[str, MergeNote] = {}
    for k in range(len(chain) - 2, -1, -1):
        child, parent_path = chain[k][0], chain[k + 1][0]
        merged = Merger(child.name, parent_path.name, notes).merge(merged, chain[k][1])
    return merged, notes
