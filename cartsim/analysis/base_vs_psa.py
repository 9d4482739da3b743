"""The deterministic base case next to the PSA's expectation, and whether they agree.

A base case at the parameters' point values and the mean over PSA draws answer
different questions when the model is non-linear (or when point values are not
their distributions' means, which cartsim flags in the parameters table). An
evidence review group wants both, and wants to be told when they point different
ways: a different sign of the incremental cost or QALYs, or a different decision
(adopt the strategy when its INMB against the comparator is > 0) at a
willingness to pay. With three or more strategies the decision is which one has
the highest net benefit, and two strategies can each agree with the comparator
while the base case and the PSA mean pick different winners: that is said too,
in the verdicts of the strategies concerned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BaseVsPsa:
    """One strategy against the comparator: base-case and PSA-mean increments."""

    strategy: str
    base_inc_cost: float
    base_inc_qaly: float
    psa_inc_cost: float
    psa_inc_qaly: float
    base_inmb: Mapping[float, float]
    psa_inmb: Mapping[float, float]
    verdict: str


def _sign(x: float) -> str:
    return "positive" if x > 0 else ("negative" if x < 0 else "zero")


def _money(x: float) -> str:
    return f"{x:+,.0f}"


def compare_base_with_psa(base_cost: Sequence[float], base_qaly: Sequence[float],
                          psa_cost: np.ndarray, psa_qaly: np.ndarray, names: Sequence[str],
                          comparator: int, wtp: Sequence[float]) -> list[BaseVsPsa]:
    """Per strategy (not the comparator): the increments of the base case (means per
    strategy, ``base_*``) and of the PSA (``psa_*``: (draws, strategies) arrays), and in
    words whether they disagree in sign or in decision.

    >>> r = compare_base_with_psa([100.0, 120.0], [1.0, 1.1], np.array([[100.0, 80.0]]),
    ...                           np.array([[1.0, 1.1]]), ["a", "b"], 0, [100.0])[0]
    >>> r.verdict.split("; ")[0]
    'disagree: incremental cost is +20 in the base case but -20 in the PSA mean (sign differs)'
    >>> r.verdict.split("; ")[1]
    'at 100/QALY the base case rejects b and the PSA mean adopts it'
    """
    out = []
    mean_cost, mean_qaly = psa_cost.mean(axis=0), psa_qaly.mean(axis=0)
    winners = _different_winners(base_cost, base_qaly, mean_cost.tolist(),
                                 mean_qaly.tolist(), names, comparator, wtp)
    for i, name in enumerate(names):
        if i == comparator:
            continue
        b_c, b_q = base_cost[i] - base_cost[comparator], base_qaly[i] - base_qaly[comparator]
        p_c = float(mean_cost[i] - mean_cost[comparator])
        p_q = float(mean_qaly[i] - mean_qaly[comparator])
        b_inmb = {float(w): w * b_q - b_c for w in wtp}
        p_inmb = {float(w): w * p_q - p_c for w in wtp}
        words = []
        if _sign(b_c) != _sign(p_c):
            words.append(f"incremental cost is {_money(b_c)} in the base case but {_money(p_c)} "
                         "in the PSA mean (sign differs)")
        if _sign(b_q) != _sign(p_q):
            words.append(f"incremental QALYs are {b_q:+.3f} in the base case but {p_q:+.3f} in "
                         "the PSA mean (sign differs)")
        for w in wtp:
            b_adopt, p_adopt = b_inmb[float(w)] > 0, p_inmb[float(w)] > 0
            if b_adopt != p_adopt:
                words.append(f"at {w:,.0f}/QALY the base case {'adopts' if b_adopt else 'rejects'}"
                             f" {name} and the PSA mean {'adopts' if p_adopt else 'rejects'} it")
        words += [text for who, text in winners if name in who]
        verdict = ("disagree: " + "; ".join(words)) if words else \
            "agree: same signs of incremental cost and QALYs and the same decision at every WTP"
        out.append(BaseVsPsa(name, b_c, b_q, p_c, p_q, b_inmb, p_inmb, verdict))
    return out


def _different_winners(base_cost: Sequence[float], base_qaly: Sequence[float],
                       mean_cost: Sequence[float], mean_qaly: Sequence[float],
                       names: Sequence[str],
                       comparator: int, wtp: Sequence[float]) -> list[tuple[set[str], str]]:
    """With three or more strategies: at each WTP where the base case and the PSA mean
    have different best strategies (highest net benefit; ties to the comparator, then
    the first listed), the two strategies and a sentence. With two strategies a
    different winner is a different decision, already said pairwise."""
    if len(names) < 3:
        return []
    order = [comparator, *(i for i in range(len(names)) if i != comparator)]

    def best(cost: Sequence[float], qaly: Sequence[float], lam: float) -> int:
        nb = [lam * float(qaly[i]) - float(cost[i]) for i in order]
        return order[nb.index(max(nb))]

    out = []
    for w in wtp:
        b, p = best(base_cost, base_qaly, w), best(mean_cost, mean_qaly, w)
        if b != p:
            out.append(({names[b], names[p]}, f"at {w:,.0f}/QALY the base case's best strategy "
                        f"is {names[b]} and the PSA mean's is {names[p]}"))
    return out
