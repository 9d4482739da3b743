"""How a variant (``extends = "parent.toml"``) combines with its parent.

One rule for every table a scenario can hold (the README's "Scenario files"
section states it for users):

* **Tables merge key by key**, at every depth: a variant states only what it
  changes (``[run] seed = 5`` keeps every other run setting).
* **Replaced whole** are the tables whose entries only mean something together:
  ``cohort.mix`` (relative weights, normalised together: ``mix = { sle = 1 }``
  over 8/3/4 must mean "SLE only", not 1/3/4); ``run.cost_conversion`` (a factor
  belongs to its currency and price year); a table that switches to another form
  (``[cohort]`` with ``file`` versus sampled groups, ``[capacity.arrivals]`` with
  ``per_year`` versus ``rate``/``years``); a table that names a different
  ``dist`` (a transition's or an age's arguments belong to the old family); and
  every list (``wtp``, ``[[dirichlet]]``, ``breaks``...).
* **A parameter** (a number, or a table with ``value``, ``dist`` or ``evidence``):

  - a *bare number* replaces the point value, in the unit the parent wrote
    (``per``/``unit`` kept, as ``--set`` does) and drops the distribution, range
    and source: the variant fixes it. If the parent had a distribution that is
    usually a slip, so the load owes a warning (a PSA would treat the key
    assumption as certain);
  - a table that names ``dist`` or ``evidence`` is a new distribution and
    replaces the entry whole; so does a ``same_as`` reference;
  - any other table merges into the parent's entry: ``{ value = 0.15 }`` keeps
    the distribution, ``per``/``unit``, range and source (the source then says
    where the value came from). A distribution given by its moments no longer
    centres on a changed value, so a value more than 5% from the kept
    distribution's mean earns a warning too.

Merging recurses once per level of nesting; the reader refuses files nested
deeper than :data:`cartsim.scenario.read.MAX_NESTING` before anything is merged.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cartsim.checks import is_number
from cartsim.params.parameter import DIST_KEYS, META_KEYS, Parameter

PARAMETER_KEYS = frozenset(META_KEYS) | frozenset(DIST_KEYS)
DISTRIBUTION_MARKERS = ("dist", "evidence")
REPLACED_WHOLE = ("cohort.mix", "run.cost_conversion")
KEPT_BY_A_BARE_NUMBER = ("per", "unit")
"""A bare number is in the unit its parent wrote, as a --set value is."""
MEAN_TOLERANCE = 0.05
"""A kept distribution whose mean is further than this (relative) from the value warns."""


def _cohort_form(node: Mapping[str, Any]) -> str | None:
    if "file" in node:
        return "file"
    return "groups" if any(k != "source" for k in node) else None


def _arrivals_form(node: Mapping[str, Any]) -> str | None:
    if "per_year" in node:
        return "per_year"
    return "rate" if "rate" in node or "years" in node else None


FORMS = {"cohort": _cohort_form, "capacity.arrivals": _arrivals_form}
"""Tables with alternative forms: a variant that switches form replaces the table."""


@dataclass(frozen=True)
class MergeNote:
    """A parameter whose merge may need a warning once the scenario is built."""

    path: str
    kind: str
    """"dropped": a bare number dropped a distribution; "kept": a changed value kept one."""
    child: str
    parent: str
    distribution: str
    """The parent's distribution as it was written (``dist = "gamma", ...``)."""


def is_parameter(node: Any) -> bool:
    """A parameter entry: a number, or a table of parameter keys with value, dist or evidence."""
    if is_number(node):
        return True
    return (isinstance(node, dict) and set(node) <= PARAMETER_KEYS
            and any(k in node for k in ("value", *DISTRIBUTION_MARKERS)))


def _has_distribution(node: Any) -> bool:
    return isinstance(node, dict) and any(k in node for k in DISTRIBUTION_MARKERS)


def _toml(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


def written_distribution(node: Mapping[str, Any]) -> str:
    """The distribution keys of a parameter table, as TOML (``dist = "gamma", mean = 2``)."""
    own_bounds = node.get("dist") in ("uniform", "triangular")
    keys = [k for k in node if k in DIST_KEYS and k != "value"
            and (own_bounds or k not in ("low", "high"))]
    return ", ".join(f"{k} = {_toml(node[k])}" for k in keys)


def _default_dist(table: Mapping[str, Any]) -> str | None:
    """The family a table has without naming one: a transition's is exponential; for
    other tables (ages) only a named family is compared."""
    return "exponential" if "to" in table else None


class Merger:
    """Merges one variant into what it extends, collecting notes for warnings."""

    def __init__(self, child: str, parent: str, notes: dict[str, MergeNote]) -> None:
        self.child, self.parent, self.notes = child, parent, notes

    def merge(self, base: Mapping[str, Any], over: Mapping[str, Any], path: str = ""
              ) -> dict[str, Any]:
        out = copy.deepcopy(dict(base))
        for key, value in over.items():
            where = f"{path}.{key}" if path else key
            out[key] = self._entry(out.get(key), value, where) if key in out \
                else copy.deepcopy(value)
        return out

    def _entry(self, old: Any, new: Any, path: str) -> Any:
        if _has_distribution(new):
            self.notes.pop(path, None)  # a new distribution: earlier notes are moot
        if is_parameter(old) and not isinstance(new, list):
            return self._parameter(old, new, path)
        if isinstance(old, list) and isinstance(new, list):
            for i, (was, now) in enumerate(zip(old, new, strict=False)):
                if is_number(now) and _has_distribution(was):
                    self._note(f"{path}.{i}", "dropped", was)
            return copy.deepcopy(new)
        if not (isinstance(old, dict) and isinstance(new, dict)) or path in REPLACED_WHOLE:
            return copy.deepcopy(new)
        form = FORMS.get(path)
        if form is not None and None not in (form(old), form(new)) and form(old) != form(new):
            return copy.deepcopy(new)
        if "dist" in new and new["dist"] != old.get("dist", _default_dist(old)):
            return copy.deepcopy(new)
        return self.merge(old, new, path)

    def _parameter(self, old: Any, new: Any, path: str) -> Any:
        if is_number(new):
            if not isinstance(old, dict):
                return new
            if _has_distribution(old):
                self._note(path, "dropped", old)
            kept = {k: old[k] for k in KEPT_BY_A_BARE_NUMBER if k in old}
            return {"value": new, **kept, "source": f"set in {self.child}"} if kept or \
                _has_distribution(old) else new
        if not isinstance(new, dict) or _has_distribution(new) or not set(new) <= PARAMETER_KEYS:
            return copy.deepcopy(new)
        if not isinstance(old, dict):
            # A number given a source or range: the number stays the value.
            return copy.deepcopy(new) if "value" in new else {"value": old, **new}
        merged = {**copy.deepcopy(old), **copy.deepcopy(new)}
        if "value" in new and new["value"] != old.get("value") and _has_distribution(old):
            self._note(path, "kept", old)
            if "source" not in new and isinstance(old.get("source"), str) and old["source"]:
                merged["source"] = f"{old['source']} (value {_toml(new['value'])} set in " \
                                   f"{self.child})"
        return merged

    def _note(self, path: str, kind: str, old: Mapping[str, Any]) -> None:
        self.notes[path] = MergeNote(path, kind, self.child, self.parent,
                                     written_distribution(old))


def merge_warnings(notes: Mapping[str, MergeNote], parameters: Mapping[str, Parameter],
                   fixed: frozenset[str]) -> tuple[str, ...]:
    """The warnings the notes still deserve once the scenario is built: a parameter
    that really lost its distribution, or whose value strays from the one it kept.
    Parameters fixed on the command line (--set, documented to fix) are skipped."""
    out = []
    for path, note in sorted(notes.items()):
        p = parameters.get(path)
        if p is None or path in fixed:
            continue
        value = _toml(p.given_value)
        if note.kind == "dropped" and p.distribution is None:
            out.append(
                f"{path} = {value} in {note.child} is a bare number: it fixes the parameter "
                f"and drops the distribution it inherits from {note.parent} "
                f"({note.distribution}) and its source, so a PSA treats it as certain. To "
                f"keep it uncertain give it a distribution, e.g. "
                f"{_suggestion(path, p.given_value, note)}; to fix it on purpose (and "
                f'silence this warning) write {{ value = {value}, dist = "fixed" }}.')
        elif note.kind == "kept" and p.distribution is not None:
            mean = p.distribution.mean
            if not isinstance(mean, float | int) or not _strays(p.given_value, float(mean)):
                continue
            out.append(
                f"{path}: value {value} set in {note.child} keeps the distribution "
                f"inherited from {note.parent} ({note.distribution}), whose mean is "
                f"{float(mean):.4g}: the point value and the PSA draws no longer agree. "
                f"Give the distribution anew around the value (e.g. "
                f"{_suggestion(path, p.given_value, note)}), or write "
                f'dist = "fixed" to fix the parameter.')
    return tuple(out)


def _strays(value: float, mean: float) -> bool:
    return abs(value - mean) > MEAN_TOLERANCE * max(abs(value), abs(mean))


def _suggestion(path: str, value: float, note: MergeNote) -> str:
    leaf = path.rsplit(".", 1)[-1]
    family = note.distribution.split('"')[1] if note.distribution.startswith("dist =") \
        else "gamma"
    if family in ("beta", "gamma", "lognormal") and value > 0 and math.isfinite(value):
        return (f'{leaf} = {{ value = {_toml(value)}, dist = "{family}", '
                f"mean = {_toml(value)}, se = ... }}")
    return f'{leaf} = {{ value = {_toml(value)}, dist = "...", ... }}'
