"""Validation of user-defined pathways (``model = "custom"``).

A custom scenario describes each strategy as states, transitions, chance nodes
and event valuations; every number in it is a parameter named by its dotted
path (``strategies.car_t.states.remission.transitions.relapse.rate``), so it
can be overridden, varied and sampled like any clinical parameter. See the
README for an annotated example (the KV-REF verification model).
"""

from __future__ import annotations

import math
from typing import Any

from cartsim.checks import Problems, did_you_mean, join, name, table, text, unknown_keys
from cartsim.params.parameter import Parameter, parse_parameter
from cartsim.scenario.model import (
    CustomChance,
    CustomEvent,
    CustomOutcome,
    CustomState,
    CustomStrategy,
    CustomTransition,
)
from cartsim.vocabulary import COST_CATEGORIES, DEAD

# dist -> {argument: kind}; kinds as in cartsim.params.parameter.KINDS, "list:<kind>" for lists.
DIST_ARGS: dict[str, dict[str, str]] = {
    "exponential": {"rate": "rate"},
    "weibull": {"shape": "positive", "scale": "duration"},
    "gompertz": {"shape": "real", "rate": "rate"},
    "loglogistic": {"shape": "positive", "scale": "duration"},
    "lognormal": {"meanlog": "real", "sdlog": "positive"},
    "piecewise_exponential": {"breaks": "list:duration", "rates": "list:rate"},
    "fixed": {"time": "duration"},
    "never": {},
    "window": {"probability": "probability", "window": "duration"},
    "waning": {"rate": "rate", "ramp": "duration"},
    "cure_fraction": {"cure_fraction": "probability", "rate": "rate"},
}
STRATEGY_KEYS = ("label", "start", "upfront_cost", "states", "chances", "events")
STATE_KEYS = ("utility", "cost", "death", "recurring", "remission", "origin", "transitions")
TRANSITION_META = ("to", "dist", "clock", "event", "per", "unit", "cost", "qaly_loss")


class _Collector:
    """Parses parameter leaves and remembers them under their dotted names."""

    def __init__(self, problems: Problems, target_year: int | None = None) -> None:
        self.problems = problems
        self.target_year = target_year  # costs with a price_year are inflated to it
        self.params: dict[str, Parameter] = {}
        self.aliases: dict[str, tuple[str, str]] = {}

    def param(self, raw: Any, path: str, kind: str, *, per: str | None = None,
              unit: str | None = None) -> str | None:
        if isinstance(raw, dict) and "same_as" in raw:
            # One parameter used in two places (say the same IS state in both
            # strategies): every value, draw, --set and DSA of it is shared.
            target = raw["same_as"]
            if len(raw) != 1 or not isinstance(target, str):
                self.problems.add(path, "same_as takes one dotted parameter name and nothing "
                                  "else", raw)
                return None
            self.aliases[path] = (target, kind)
            return target
        leaf = dict(raw) if isinstance(raw, dict) else {"value": raw}
        if kind == "rate" and per and "per" not in leaf:
            leaf["per"] = per
        if kind == "duration" and unit and "unit" not in leaf:
            leaf["unit"] = unit
        p = parse_parameter(leaf if isinstance(raw, dict) or len(leaf) > 1 else raw, path, kind,
                            self.problems, target_year=self.target_year)
        if p is None:
            return None
        self.params[path] = p
        return path

    def costs(self, raw: Any, path: str) -> dict[str, str]:
        """A cost: one amount (category "other") or a table of categories."""
        if isinstance(raw, dict) and not any(k in raw for k in ("value", "dist", "same_as")):
            unknown_keys(raw, COST_CATEGORIES, path, self.problems)
            out = {}
            for cat, value in raw.items():
                if cat in COST_CATEGORIES and (ref := self.param(value, join(path, cat), "cost")):
                    out[cat] = ref
            return out
        ref = self.param(raw, path, "cost")
        return {"other": ref} if ref else {}


def _transition(c: _Collector, raw: Any, path: str, tname: str) -> CustomTransition | None:
    spec = table(raw, path, c.problems)
    if spec is None:
        return None
    dist = text(spec.get("dist", "exponential"), join(path, "dist"), c.problems, choices=DIST_ARGS)
    if dist is None:
        return None
    args_kinds = DIST_ARGS[dist]
    unknown_keys(spec, (*TRANSITION_META, *args_kinds), path, c.problems)
    per, unit = spec.get("per"), spec.get("unit")
    args: dict[str, str | tuple[str, ...]] = {}
    for arg, kind in args_kinds.items():
        where = join(path, arg)
        if arg not in spec:
            c.problems.missing(where, f"required for dist = {dist!r}")
            continue
        if kind.startswith("list:"):
            values = spec[arg]
            if not isinstance(values, list) or not values:
                c.problems.add(where, "must be a non-empty list of numbers", values)
                continue
            refs = [c.param(v, f"{where}.{i}", kind[5:], per=per, unit=unit)
                    for i, v in enumerate(values)]
            named = [r for r in refs if r]
            if len(named) == len(refs):
                args[arg] = tuple(named)
        elif ref := c.param(spec[arg], where, kind, per=per, unit=unit):
            args[arg] = ref
    to = name(spec.get("to"), join(path, "to"), c.problems) if "to" in spec else None
    if "to" not in spec:
        c.problems.missing(join(path, "to"), "the state or chance node it leads to")
    clock = name(spec.get("clock", "state"), join(path, "clock"), c.problems) or "state"
    event = name(spec.get("event", tname), join(path, "event"), c.problems) or tname
    if to is None:
        return None
    return CustomTransition(tname, to, dist, args, clock, event)


def _state(c: _Collector, raw: Any, path: str, sname: str) -> CustomState | None:
    spec = table(raw, path, c.problems)
    if spec is None:
        return None
    unknown_keys(spec, STATE_KEYS, path, c.problems)
    utility = None
    if "utility" in spec:
        utility = c.param(spec["utility"], join(path, "utility"), "utility")
    else:
        c.problems.missing(join(path, "utility"), "the state's utility (1 = full health)")
    costs = c.costs(spec["cost"], join(path, "cost")) if "cost" in spec else {}
    death_rate = ratio = None
    cause = "disease"
    if "death" in spec:
        dpath = join(path, "death")
        death = table(spec["death"], dpath, c.problems) or {}
        unknown_keys(death, ("rate", "per", "life_table", "cause", "dist", "source", "status"),
                     dpath, c.problems)
        if "dist" in death:
            text(death["dist"], join(dpath, "dist"), c.problems, choices=("exponential",))
        if "rate" in death:
            death_rate = c.param(death["rate"], join(dpath, "rate"), "rate", per=death.get("per"))
        if "life_table" in death:
            ratio = c.param(death["life_table"], join(dpath, "life_table"), "ratio")
        cause = name(death.get("cause", "disease"), join(dpath, "cause"), c.problems) or cause
    recurring: dict[str, str] = {}
    rec_raw = table(spec.get("recurring", {}), join(path, "recurring"), c.problems) or {}
    for label, value in rec_raw.items():
        if name(label, join(path, "recurring", ) + f".{label}", c.problems) and (
                ref := c.param(value, join(join(path, "recurring"), label), "rate")):
            recurring[label] = ref
    remission = spec.get("remission", False)
    if not isinstance(remission, bool):
        c.problems.add(join(path, "remission"), "must be true or false", remission)
        remission = False
    origin = name(spec["origin"], join(path, "origin"), c.problems) if "origin" in spec else None
    transitions = []
    tr_raw = table(spec.get("transitions", {}), join(path, "transitions"), c.problems) or {}
    for tname in sorted(tr_raw):
        tpath = join(join(path, "transitions"), tname)
        if name(tname, tpath, c.problems) and (tr := _transition(c, tr_raw[tname], tpath, tname)):
            transitions.append(tr)
    return CustomState(sname, utility, costs, death_rate, ratio, cause, recurring, remission,
                       origin, tuple(transitions))


def _chance(c: _Collector, raw: Any, path: str, cname: str) -> CustomChance | None:
    spec = table(raw, path, c.problems)
    if spec is None:
        return None
    unknown_keys(spec, ("outcomes", "then", "origin"), path, c.problems)
    outcomes = []
    out_raw = table(spec.get("outcomes", {}), join(path, "outcomes"), c.problems) or {}
    for label in sorted(out_raw):
        opath = join(join(path, "outcomes"), label)
        ospec = table(out_raw[label], opath, c.problems)
        if ospec is None or not name(label, opath, c.problems):
            continue
        unknown_keys(ospec, ("probability", "to"), opath, c.problems)
        prob = c.param(ospec.get("probability"), join(opath, "probability"), "probability")
        to = name(ospec["to"], join(opath, "to"), c.problems) if "to" in ospec else None
        if prob:
            outcomes.append(CustomOutcome(label, prob, to))
    then = name(spec["then"], join(path, "then"), c.problems) if "then" in spec else None
    origin = name(spec["origin"], join(path, "origin"), c.problems) if "origin" in spec else None
    return CustomChance(cname, tuple(outcomes), then, origin)


def parse_custom(raw: Any, problems: Problems, target_year: int | None = None
                 ) -> tuple[dict[str, CustomStrategy], dict[str, Parameter]]:
    """The strategies of a custom model and their parameters; a cost with a
    ``price_year`` is inflated to ``target_year`` (the run's price year), as in the
    clinical model."""
    c = _Collector(problems, target_year)
    strategies: dict[str, CustomStrategy] = {}
    spec = table(raw, "strategies", problems) or {}
    if not spec:
        problems.missing("strategies", "at least one [strategies.<name>] table")
    for sname in sorted(spec):
        path = join("strategies", sname)
        st = table(spec[sname], path, problems)
        if st is None or not name(sname, path, problems):
            continue
        unknown_keys(st, STRATEGY_KEYS, path, problems)
        states = {}
        for key, value in sorted((table(st.get("states", {}), join(path, "states"),
                                        problems) or {}).items()):
            spath = join(join(path, "states"), key)
            if key == DEAD:
                problems.add(spath, f"'{DEAD}' is reserved for death", key)
            elif name(key, spath, problems) and (s := _state(c, value, spath, key)):
                states[key] = s
        chances = {}
        for key, value in sorted((table(st.get("chances", {}), join(path, "chances"),
                                         problems) or {}).items()):
            cpath = join(join(path, "chances"), key)
            if name(key, cpath, problems) and (ch := _chance(c, value, cpath, key)):
                chances[key] = ch
        events: dict[str, CustomEvent] = {}
        if "upfront_cost" in st:
            events["start"] = CustomEvent(c.costs(st["upfront_cost"], join(path, "upfront_cost")),
                                          None)
        for label, value in sorted((table(st.get("events", {}), join(path, "events"),
                                          problems) or {}).items()):
            epath = join(join(path, "events"), label)
            ev = table(value, epath, problems) or {}
            unknown_keys(ev, ("cost", "qaly_loss"), epath, problems)
            costs = c.costs(ev["cost"], join(epath, "cost")) if "cost" in ev else {}
            loss = c.param(ev["qaly_loss"], join(epath, "qaly_loss"), "qaly_loss") \
                if "qaly_loss" in ev else None
            if label in events:
                costs = {**events[label].costs, **costs}
            events[label] = CustomEvent(costs, loss)
        for state in states.values():
            for tr in state.transitions:
                tpath = join(join(join(join(path, "states"), state.name), "transitions"), tr.name)
                raw_tr = st["states"][state.name]["transitions"][tr.name]
                costs = c.costs(raw_tr["cost"], join(tpath, "cost")) if "cost" in raw_tr else {}
                loss = c.param(raw_tr["qaly_loss"], join(tpath, "qaly_loss"), "qaly_loss") \
                    if "qaly_loss" in raw_tr else None
                if costs or loss:
                    prev = events.get(tr.event, CustomEvent({}, None))
                    events[tr.event] = CustomEvent({**prev.costs, **costs}, loss or prev.qaly_loss)
        start = name(st.get("start"), join(path, "start"), problems) if "start" in st else None
        if start is None and "start" not in st:
            problems.missing(join(path, "start"), "the state or chance node patients start in")
        label = text(st.get("label", sname), join(path, "label"), problems) or sname
        nodes = set(states) | set(chances)
        if start and start not in nodes:
            problems.add(join(path, "start"), "is not a state or chance node of this strategy",
                         start, f"nodes: {', '.join(sorted(nodes)) or 'none'}")
        for state in states.values():
            for tr in state.transitions:
                if tr.to != DEAD and tr.to not in nodes:
                    problems.add(join(join(join(join(path, "states"), state.name), "transitions"),
                                      tr.name) + ".to", "is not a state or chance node", tr.to,
                                 f"nodes: {', '.join(sorted(nodes))}, or '{DEAD}'")
        _check_graph(path, start, states, chances, problems)
        strategies[sname] = CustomStrategy(sname, label, start or "", states, chances, events)
    _check_aliases(c)
    return strategies, c.params


def _check_aliases(c: _Collector) -> None:
    """Every ``same_as`` names a parameter written out elsewhere, of the same kind."""
    for path, (target, kind) in sorted(c.aliases.items()):
        where = join(path, "same_as")
        found = c.params.get(target)
        if found is None:
            hint = (f"{target} is itself a same_as; name the parameter it refers to"
                    if target in c.aliases else
                    did_you_mean(target, c.params) or "name a number written out in this file")
            c.problems.add(where, "is not a parameter of this scenario", target, hint)
        elif found.kind != kind:
            c.problems.add(where, f"is a {found.kind}, but this place needs a {kind}", target)


def _check_graph(path: str, start: str | None, states: dict[str, CustomState],
                 chances: dict[str, CustomChance], problems: Problems) -> None:
    """Chance targets exist, and every node can be reached from the start (typos)."""
    nodes = set(states) | set(chances)
    edges: dict[str, list[str]] = {s.name: [t.to for t in s.transitions] for s in states.values()}
    for ch in chances.values():
        cpath = join(join(path, "chances"), ch.name)
        targets = [(join(join(join(cpath, "outcomes"), o.event), "to"), o.to)
                   for o in ch.outcomes] + [(join(cpath, "then"), ch.then)]
        for where, target in targets:
            if target is not None and target != DEAD and target not in nodes:
                problems.add(where, "is not a state or chance node", target,
                             f"nodes: {', '.join(sorted(nodes))}, or '{DEAD}'")
        edges[ch.name] = [t for _, t in targets if t is not None]
    # Reachability is judged only on a strategy that is otherwise sound: a node cut
    # off by another error (say a transition missing its `to`) is not news.
    if not start or start not in nodes or any(p.path.startswith(path) for p in problems):
        return
    seen: set[str] = set()
    todo = [start]
    while todo:
        node = todo.pop()
        if node in seen or node not in nodes:
            continue
        seen.add(node)
        todo += edges.get(node, [])
    for node in sorted(nodes - seen):
        kind = "states" if node in states else "chances"
        problems.add(join(join(path, kind), node), f"can never be reached from the start "
                     f"'{start}'", None, "a typo in a node name?", has_value=False)


def check_scheduled_events(strategies: dict[str, CustomStrategy], params: dict[str, Parameter],
                           horizon: float, problems: Problems) -> None:
    """A fixed-time transition out of a start state happens at that time or never:
    past a finite horizon it never does, which is almost always a unit slip."""
    if math.isinf(horizon):
        return
    for sname, st in sorted(strategies.items()):
        state = st.states.get(st.start)
        for tr in state.transitions if state else ():
            ref = tr.args.get("time")
            if tr.dist != "fixed" or tr.clock != "state" or not isinstance(ref, str):
                continue
            p = params.get(ref)
            if p is not None and p.value > horizon:
                problems.add(ref, f"is beyond the horizon ({horizon:g} years): patients start "
                             f"in '{st.start}' of strategy '{sname}', so this scheduled event "
                             "could never happen", p.given_value,
                             "a unit slip (months for years)? or lengthen run.horizon")
