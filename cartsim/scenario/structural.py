"""A scenario's ``[[structural]]`` tables: structural uncertainty drawn in the PSA.

As written (the README's "Structural uncertainty" section)::

    [[structural]]
    key = "car_t.relapse.model"      # the dotted key whose value is chosen
    rationale = "why these options, why these weights"

    [structural.options.constant]    # an option: its weight, its own parameters
    weight = 0.4

    [structural.options.weibull]
    weight = 0.2
    shape = { value = 1.5, source = "..." }          # = car_t.relapse.shape
    scale = { value = 12, unit = "years", dist = "gamma", mean = 12, se = 4, source = "..." }

The key is a text choice (``car_t.relapse.model``: the option names are its values)
or a parameter of the scenario (``car_t.retreatment.probability``: the option names
are labels, and an option sets the parameter by its last part, ``probability = 0``).
An option's other entries are parameters under the key's parent table
(``car_t.relapse`` above), written as anywhere else in a scenario; an option that
does not set a parameter keeps the scenario's own. Weights are positive and sum to 1
(within 1e-9): a sum that is not 1 is refused, not normalised, because it is
usually a typo in one weight.

The deterministic run ignores these tables (it uses the scenario's own value); a PSA
draws one option per draw (:mod:`cartsim.params.structural`). A choice whose key is
set by ``--set`` is dropped with a warning (the user fixed it), and so is an option's
parameter set by ``--set``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from cartsim.checks import Problems, did_you_mean, is_number, name, number, text, unknown_keys
from cartsim.params.parameter import Parameter, parse_parameter
from cartsim.params.structural import WEIGHT_TOLERANCE, StructuralChoice, StructuralOption
from cartsim.scenario.clinical import flatten
from cartsim.scenario.clinical_schema import RELAPSE_MODELS, STRUCTURAL_KEYS

CHOICE_KEYS = ("key", "rationale", "options")
OPTION_KEYS = ("weight", "source")
RELAPSE_NEEDS = {"weibull": ("car_t.relapse.shape", "car_t.relapse.scale"),
                 "cure_fraction": ("car_t.relapse.cure_fraction",),
                 "waning": ("car_t.relapse.ramp",)}
"""What each relapse shape needs beyond the scenario's own values (their defaults switch
the shape off: a Weibull option without its own shape and scale is a mistake)."""


def parse_structural(raw: Any, params: Mapping[str, Parameter], choices: Mapping[str, str],
                     problems: Problems, *, fixed: Collection[str] = frozenset(),
                     jointly: Collection[str] = frozenset(), target_year: int | None = None,
                     unused: Collection[str] = frozenset()
                     ) -> tuple[tuple[StructuralChoice, ...], tuple[str, ...]]:
    """Validate the ``structural`` list against the scenario's parameters and text
    choices; the choices and a warning for each thing ``--set`` dropped. ``jointly``:
    parameters drawn jointly or forming a set of exclusive probabilities (an option may
    not set one). ``unused``: parameters of strategies not compared; a choice over them
    (``car_t.relapse.*`` without car_t) is dropped with a warning, as their values are."""
    if raw is None:
        return (), ()
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        problems.add("structural", "must be a list of tables, written [[structural]]",
                     raw if not isinstance(raw, list) else None, has_value=not isinstance(
                         raw, list))
        return (), ()
    out: list[StructuralChoice] = []
    warnings: list[str] = []
    owner: dict[str, str] = {}
    seen: set[str] = set()
    for i, spec in enumerate(raw, start=1):
        path = f"structural[{i}]"
        unknown_keys(spec, CHOICE_KEYS, path, problems)
        if _not_compared(spec, unused):
            warnings.append(f"{path} ({spec.get('key')}) belongs to a strategy that is not "
                            "in run.strategies: dropped")
            continue
        key = _key(spec.get("key"), f"{path}.key", params, choices, problems)
        rationale = None
        if "rationale" not in spec:
            problems.missing(f"{path}.rationale", "text saying why these options and weights")
        else:
            rationale = text(spec["rationale"], f"{path}.rationale", problems, max_len=5000)
        if rationale is not None and not rationale.strip():
            problems.add(f"{path}.rationale", "must say why these options and weights", "")
        if key is not None and key in seen:
            problems.add(f"{path}.key", "is already a structural choice (one table per key)",
                         key)
            continue
        seen.add(key or "")
        options = _options(spec.get("options"), path, key, params, problems, target_year)
        if key is None or rationale is None or options is None:
            continue
        if key in fixed:
            warnings.append(f"{key} is set by --set, so the structural choice over it "
                            f"({', '.join(o.name for o in options)}) is dropped: the PSA "
                            "holds it at the value given")
            continue
        kept = []
        for option in options:
            given = {n: p for n, p in option.parameters.items() if n not in fixed}
            dropped = sorted(set(option.parameters) - set(given))
            if dropped:
                warnings.append(f"{', '.join(dropped)} set by --set: option {option.name!r} of "
                                f"{key} keeps the value given")
            for n in given:
                where = f"{path}.options.{option.name}.{_leaf(key, n)}"
                if n in jointly:
                    problems.add(where, "is drawn jointly with other parameters ([[dirichlet]], "
                                 "[[correlations]] or a set of exclusive probabilities): an "
                                 "option may not replace it alone", n)
                elif owner.setdefault(n, key) != key:
                    problems.add(where, f"is set by the options of {owner[n]} too: one "
                                 "parameter, one structural choice", n)
            kept.append(StructuralOption(option.name, option.weight, given, option.source))
        out.append(StructuralChoice(key, rationale, tuple(kept), key in STRUCTURAL_KEYS))
    return tuple(out), tuple(dict.fromkeys(warnings))


def _not_compared(spec: Mapping[str, Any], unused: Collection[str]) -> bool:
    """Whether the choice's key, or the parameters next to it, belong to strategies not
    compared (a text key such as car_t.relapse.model has parameters beside it)."""
    key = spec.get("key")
    if not isinstance(key, str) or not unused:
        return False
    parent = key.rsplit(".", 1)[0] + "." if "." in key else ""
    return key in unused or (key in STRUCTURAL_KEYS and bool(parent) and
                             any(n.startswith(parent) for n in unused))


def _key(value: Any, path: str, params: Mapping[str, Parameter], choices: Mapping[str, str],
         problems: Problems) -> str | None:
    if value is None:
        problems.missing(path, "the dotted key whose value is chosen, e.g. "
                         "\"car_t.relapse.model\"")
        return None
    key = text(value, path, problems)
    if key is None:
        return None
    if key in choices or key in params:
        return key
    known = [*choices, *params]
    problems.add(path, "must be a text choice (" + ", ".join(choices or ["none here"]) +
                 ") or a parameter of this scenario", key,
                 did_you_mean(key, known) or "a parameter of a strategy not compared is not "
                 "in the scenario")
    return None


def _leaf(key: str, name_: str) -> str:
    parent = key.rsplit(".", 1)[0] + "." if "." in key else ""
    return name_.removeprefix(parent)


def _options(raw: Any, path: str, key: str | None, params: Mapping[str, Parameter],
             problems: Problems, target_year: int | None
             ) -> tuple[StructuralOption, ...] | None:
    where = f"{path}.options"
    if not isinstance(raw, dict) or not raw:
        problems.add(where, "must be a table of options, [structural.options.<name>], each "
                     "with a weight", raw if raw is not None else None, has_value=raw is not None)
        return None
    parent = key.rsplit(".", 1)[0] if key is not None and "." in key else ""
    out: list[StructuralOption] = []
    ok = True
    for label, spec in raw.items():
        here = f"{where}.{label}"
        option_name = _option_name(label, here, key, problems)
        if not isinstance(spec, dict):
            problems.add(here, "must be a table with a weight", spec)
            ok = False
            continue
        weight = number(spec.get("weight"), f"{here}.weight", problems, low=0.0,
                        low_open=True, high=1.0, what="a probability > 0 and <= 1",
                        hint="drop an option that cannot happen") if "weight" in spec else None
        if "weight" not in spec:
            problems.missing(f"{here}.weight", "the option's probability, > 0")
        source = text(spec.get("source", ""), f"{here}.source", problems, max_len=5000) or ""
        given = flatten({k: v for k, v in spec.items() if k not in OPTION_KEYS})
        parsed = _option_parameters(given, here, key, parent, params, problems, target_year)
        if option_name is None or weight is None or parsed is None:
            ok = False
            continue
        out.append(StructuralOption(option_name, float(weight), parsed, source))
    if not ok:
        return None
    total = sum(o.weight for o in out)
    if abs(total - 1.0) > WEIGHT_TOLERANCE:
        problems.add(f"{where} (sum of the weights)", "must be 1 (within 1e-9): the weights "
                     "are the options' probabilities", round(total, 12),
                     " + ".join(f"{o.weight:g}" for o in out))
        return None
    if key == "car_t.relapse.model":
        for o in out:
            for needed in RELAPSE_NEEDS.get(o.name, ()):
                if needed not in o.parameters:
                    problems.missing(f"{where}.{o.name}.{_leaf(key, needed)}",
                                     f"the {o.name} shape needs its own {needed}")
    return tuple(out)


def _option_name(label: str, here: str, key: str | None, problems: Problems) -> str | None:
    if key in STRUCTURAL_KEYS:
        allowed = RELAPSE_MODELS if key == "car_t.relapse.model" else STRUCTURAL_KEYS[key]
        return text(label, here, problems, choices=allowed)
    return name(label, here, problems)


def _option_parameters(given: Mapping[str, Any], here: str, key: str | None, parent: str,
                       params: Mapping[str, Parameter], problems: Problems,
                       target_year: int | None) -> dict[str, Parameter] | None:
    out: dict[str, Parameter] = {}
    ok = True
    for leaf, node in given.items():
        full = f"{parent}.{leaf}" if parent else leaf
        if key in STRUCTURAL_KEYS and full == key:
            problems.add(f"{here}.{leaf}", "is the option's name: leave it out", node)
            ok = False
            continue
        if full not in params:
            problems.add(f"{here}.{leaf}", f"is not a parameter of this scenario under "
                         f"{parent or 'the top level'} (an option sets parameters next to "
                         "its key)", node if is_number(node) or isinstance(node, str)
                         else None, did_you_mean(full, params))
            ok = False
            continue
        p = parse_parameter(node, f"{here}.{leaf}", params[full].kind, problems,
                            target_year=target_year)
        if p is None:
            ok = False
            continue
        out[full] = p
    return out if ok else None


def structural_fingerprint(choices: Sequence[StructuralChoice]) -> list[Any]:
    """What a PSA's draws depend on, for the scenario's hash."""
    return [[c.key, [[o.name, repr(o.weight),
                      {n: [repr(p.value), p.distribution.describe() if p.distribution else
                           None] for n, p in o.parameters.items()}] for o in c.options]]
            for c in choices]
