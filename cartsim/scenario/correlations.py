"""Validation of jointly drawn parameters: ``[[correlations]]`` and ``[[dirichlet]]``.

A scenario may declare, as arrays of tables::

    [[correlations]]
    params = ["car_t.response.sle", "car_t.response.iim"]
    rho = 0.5
    source = "assumption: one mechanism of response"

    [[dirichlet]]
    params = ["car_t.crs.grade_1", "car_t.crs.grade_2", "car_t.crs.grade_3"]
    alphas = [10.5, 1.5, 0.5, 3.5]   # one more than params: the last is "no CRS"

``rho`` is the correlation of the two parameters' normal scores (a Gaussian
copula; see ``params/draws.py``); each parameter keeps its own distribution.
A Dirichlet set replaces its members' own distributions in PSA by the joint
one (their point values stay as written); ``counts`` instead of ``alphas``
means alphas = counts + 0.5. Entries are numbered from 1 in file order in
messages. Everything is checked at once: unknown names (with a suggestion),
|rho| < 1, parameters without a distribution, a parameter in two joint
blocks, and a correlation matrix that is not positive definite (naming the
smallest inconsistent group). A parameter fixed on the command line (``--set``)
takes every block it is in out of play, and ``JointSpec.notes`` says so.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping
from typing import Any

import numpy as np

from cartsim.checks import Problems, did_you_mean, number, text, unknown_keys
from cartsim.errors import ParameterError
from cartsim.params.distributions import Dirichlet, make_distribution
from cartsim.params.draws import (
    Correlation,
    DirichletSet,
    JointSpec,
    correlation_blocks,
)
from cartsim.params.parameter import Parameter

CORRELATION_KEYS = ("params", "rho", "source", "note")
DIRICHLET_KEYS = ("params", "alphas", "counts", "source", "note")
MAX_ENTRIES = 500
PD_TOLERANCE = 1e-10
"""Smallest eigenvalue a correlation matrix needs to count as positive definite."""


def _entries(raw: Any, key: str, problems: Problems) -> list[tuple[str, dict[str, Any]]]:
    if raw is None:
        return []
    example = ("params = [\"a\", \"b\"] and rho" if key == "correlations"
               else "params = [...] and alphas = [...]")
    if not isinstance(raw, list) or not all(isinstance(e, dict) for e in raw):
        problems.add(key, f"must be an array of tables: write one [[{key}]] block per entry, "
                     f"each with {example}", raw if not isinstance(raw, dict) else None,
                     has_value=not isinstance(raw, dict))
        return []
    if len(raw) > MAX_ENTRIES:
        problems.add(key, f"has {len(raw)} entries; at most {MAX_ENTRIES}", None,
                     has_value=False)
        return []
    return [(f"{key}[{i}]", entry) for i, entry in enumerate(raw, start=1)]


def _names(entry: Mapping[str, Any], path: str, params: Mapping[str, Parameter],
           problems: Problems, *, count: int | None = None,
           unused: Collection[str] = ()) -> tuple[str, ...] | None:
    raw = entry.get("params")
    where = f"{path}.params"
    want = f"{count} parameter names" if count else "a list of parameter names"
    if not isinstance(raw, list) or not raw or (count and len(raw) != count):
        problems.add(where, f"must be {want}", raw)
        return None
    names: list[str] = []
    for i, name in enumerate(raw):
        spot = f"{where}[{i + 1}]"
        if text(name, spot, problems) is None:
            return None
        if name not in params:
            if name in unused:
                return None  # a strategy not compared: its joint draws go with it
            if any(q.path == name or q.path.startswith(name + ".") for q in problems):
                return None  # the parameter itself is invalid, and already reported
            problems.add(spot, "unknown parameter", name,
                         did_you_mean(name, params) or "list them with `cartsim params FILE`")
            return None
        if name in names:
            problems.add(spot, "is listed twice", name)
            return None
        names.append(name)
    return tuple(names)


def _names_unused(entry: Mapping[str, Any], unused: Collection[str]) -> bool:
    """Whether a block names a parameter of a strategy the scenario does not compare."""
    raw = entry.get("params")
    return isinstance(raw, list) and any(isinstance(n, str) and n in unused for n in raw)


def _needs_distribution(name: str, params: Mapping[str, Parameter], spot: str,
                        problems: Problems) -> bool:
    dist = params[name].distribution
    if dist is None or dist.name == "fixed":
        problems.add(spot, f"{name} has no distribution (it is fixed at its value), so it "
                     "cannot be correlated", name, "give it a dist, or drop the correlation")
        return False
    return dist.name != "dirichlet"  # a Dirichlet parameter is reported once, on its own


def _parse_correlations(raw: Any, params: Mapping[str, Parameter], fixed: Collection[str],
                        problems: Problems, notes: list[str],
                        unused: Collection[str]) -> list[tuple[str, Correlation]]:
    out: list[tuple[str, Correlation]] = []
    seen: dict[tuple[str, str], str] = {}
    for path, entry in _entries(raw, "correlations", problems):
        unknown_keys(entry, CORRELATION_KEYS, path, problems)
        names = _names(entry, path, params, problems, count=2, unused=unused)
        if names is None and _names_unused(entry, unused):
            continue
        if "rho" not in entry:
            problems.missing(f"{path}.rho", "the normal-scores correlation, -1 < rho < 1")
            continue
        rho = number(entry["rho"], f"{path}.rho", problems, low=-1.0, high=1.0,
                     what="a correlation between -1 and 1")
        if rho is not None and abs(rho) == 1.0:
            problems.add(f"{path}.rho", "must be strictly between -1 and 1 (|rho| = 1 would "
                         "make two parameters one)", entry["rho"])
            rho = None
        source = text(entry.get("source", ""), f"{path}.source", problems, max_len=2000)
        text(entry.get("note", ""), f"{path}.note", problems, max_len=2000)
        if names is None or rho is None:
            continue
        a, b = sorted(names)
        if (a, b) in seen:
            problems.add(f"{path}.params", f"{a} and {b} are already correlated in "
                         f"{seen[a, b]}", list(names))
            continue
        seen[a, b] = path
        if a in fixed or b in fixed:
            which = " and ".join(n for n in (a, b) if n in fixed)
            notes.append(f"{path} ({a} ~ {b}, rho {rho:g}) not applied: {which} fixed by --set")
            continue
        ok = [_needs_distribution(n, params, f"{path}.params", problems) for n in (a, b)]
        if all(ok):
            out.append((path, Correlation(a, b, rho, source or "")))
    return out


def _parse_dirichlet(raw: Any, params: Mapping[str, Parameter], fixed: Collection[str],
                     problems: Problems, notes: list[str],
                     unused: Collection[str]) -> list[tuple[str, DirichletSet]]:
    out: list[tuple[str, DirichletSet]] = []
    for path, entry in _entries(raw, "dirichlet", problems):
        unknown_keys(entry, DIRICHLET_KEYS, path, problems)
        names = _names(entry, path, params, problems, unused=unused)
        if names is None and _names_unused(entry, unused):
            continue
        source = text(entry.get("source", ""), f"{path}.source", problems, max_len=2000)
        text(entry.get("note", ""), f"{path}.note", problems, max_len=2000)
        given = [k for k in ("alphas", "counts") if k in entry]
        if len(given) != 1:
            problems.add(path, "needs exactly one of alphas or counts", given or None,
                         "alphas = [...] (one per parameter, plus one for the remainder "
                         "category if the parameters need not sum to 1)",
                         has_value=bool(given))
            continue
        try:
            dist = make_distribution({"dist": "dirichlet", given[0]: entry[given[0]]})
        except ParameterError as err:
            problems.add(f"{path}.{given[0]}", str(err), entry[given[0]])
            continue
        if names is None:
            continue
        assert isinstance(dist, Dirichlet)
        size, ok = len(dist.alphas), True
        if size not in (len(names), len(names) + 1):
            problems.add(f"{path}.{given[0]}", f"needs {len(names)} entries (one per "
                         f"parameter) or {len(names) + 1} (the last for the remainder "
                         "category)", entry[given[0]])
            ok = False
        not_prob = [n for n in names if params[n].kind != "probability"]
        if not_prob:
            problems.add(f"{path}.params", "a Dirichlet set holds probabilities only; not: "
                         + ", ".join(not_prob), list(names))
            ok = False
        if not ok:
            continue
        if any(n in fixed for n in names):
            which = ", ".join(n for n in names if n in fixed)
            notes.append(f"{path} ({', '.join(names)}) not applied: {which} fixed by --set; "
                         "the others keep their own distributions")
            continue
        out.append((path, DirichletSet(names, dist, size == len(names) + 1, source or "")))
    return out


def _check_positive_definite(correlations: list[tuple[str, Correlation]],
                             problems: Problems) -> None:
    where = {frozenset((c.first, c.second)): path for path, c in correlations}
    for names, matrix in correlation_blocks([c for _, c in correlations]):
        if np.linalg.eigvalsh(matrix)[0] > PD_TOLERANCE:
            continue
        # Name the smallest group of parameters whose correlations contradict each other.
        culprit = names
        if len(names) <= 10:
            contradicting = next(
                sub for size in range(3, len(names) + 1)
                for sub in itertools.combinations(range(len(names)), size)
                if np.linalg.eigvalsh(matrix[np.ix_(sub, sub)])[0] <= PD_TOLERANCE)
            culprit = tuple(names[i] for i in contradicting)
        sub = [names.index(n) for n in culprit]
        pairs = [f"{where[frozenset((a, b))]} {a} ~ {b} = {matrix[i, j]:g}"
                 for (i, a), (j, b) in itertools.combinations(zip(sub, culprit, strict=True), 2)
                 if frozenset((a, b)) in where]
        smallest = float(np.linalg.eigvalsh(matrix[np.ix_(sub, sub)])[0])
        problems.add("correlations", "the correlations among " + ", ".join(culprit)
                     + f" contradict each other (their matrix is not positive definite; "
                     f"smallest eigenvalue {smallest:.3g}): " + "; ".join(pairs), None,
                     "weaken one of them: e.g. if a ~ b and b ~ c are strong and positive, "
                     "a ~ c cannot be strongly negative", has_value=False)


def parse_joint(raw: Mapping[str, Any], params: Mapping[str, Parameter],
                problems: Problems, fixed: Collection[str] = (),
                unused: Collection[str] = ()) -> JointSpec:
    """The scenario's joint draws (``raw``: the whole scenario table); problems added.

    ``fixed``: parameters set on the command line, whose blocks are dropped with a note.
    ``unused``: parameters of strategies the scenario does not compare, whose blocks are
    dropped without a word (the parameters themselves are warned about).
    """
    for name, p in params.items():
        if p.distribution is not None and p.distribution.name == "dirichlet":
            problems.add(f"{name}.dist", "a Dirichlet distribution describes several "
                         "probabilities at once, not one parameter", "dirichlet",
                         "declare the parameters together in a [[dirichlet]] table with "
                         "params = [...] and alphas = [...]")
    notes: list[str] = []
    correlations = _parse_correlations(raw.get("correlations"), params, fixed, problems, notes,
                                       unused)
    sets = _parse_dirichlet(raw.get("dirichlet"), params, fixed, problems, notes, unused)
    owner: dict[str, str] = {}
    for path, block in [*((p, (c.first, c.second)) for p, c in correlations),
                        *((p, d.names) for p, d in sets)]:
        for name in block:
            first = owner.setdefault(name, path)
            if first != path and not (first.startswith("correlations")
                                      and path.startswith("correlations")):
                problems.add(f"{path}.params", f"{name} is already drawn jointly in {first}; "
                             "a parameter can be in one Dirichlet set or in correlations, "
                             "not both", name)
    _check_positive_definite(correlations, problems)
    return JointSpec(tuple(sorted((c for _, c in correlations),
                                  key=lambda c: (c.first, c.second))),
                     tuple(sorted((d for _, d in sets), key=lambda d: d.names)),
                     tuple(notes))


def joint_fingerprint(joint: JointSpec) -> dict[str, Any]:
    """What of the joint draws changes results (for the canonical scenario hash)."""
    return {"correlations": [[c.first, c.second, repr(c.rho)] for c in joint.correlations],
            "dirichlet": [[list(d.names), d.distribution.describe(), d.remainder,
                           [repr(a) for a in d.distribution.alphas]] for d in joint.dirichlet],
            "notes": list(joint.notes)}
