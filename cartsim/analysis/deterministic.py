"""Base-case summaries from per-patient arrays: means, increments, ICER, INMB.

Takes ``{strategy: {column: per-patient array}}`` (the columns the outcomes
layer produces) and returns plain records; the report layer turns them into
tables. Incremental values are differences of the strategy means (so they
equal the difference of the reported totals exactly); their Monte Carlo
standard errors are those of the paired per-patient differences, valid
because every patient is simulated under every strategy with common random
numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from cartsim.analysis.cea import (
    IcerResult,
    MeanEstimate,
    compute_icer,
    estimate_mean,
    exact_mean,
    mcse,
)

Columns = Mapping[str, np.ndarray]
SUMMARY_MEASURES = ("cost", "cost_undisc", "qaly", "qaly_undisc", "ly", "ly_undisc",
                    "remission_years", "remission_years_disc")


@dataclass(frozen=True)
class Increment:
    """One strategy against the comparator."""

    strategy: str
    comparator: str
    measures: Mapping[str, MeanEstimate]
    icer: IcerResult
    inmb: Mapping[float, MeanEstimate]


def means(columns: Columns, measures: Sequence[str], mask: np.ndarray | None = None
          ) -> dict[str, MeanEstimate]:
    return {m: estimate_mean(columns[m] if mask is None else columns[m][mask]) for m in measures}


def increment(new: Columns, ref: Columns, strategy: str, comparator: str,
              measures: Sequence[str], wtp: Sequence[float],
              mask: np.ndarray | None = None) -> Increment:
    """Difference of means, paired MCSE, ICER with status and INMB at each WTP."""
    def pick(cols: Columns, m: str) -> np.ndarray:
        return cols[m] if mask is None else cols[m][mask]

    out: dict[str, MeanEstimate] = {}
    for m in measures:
        a, b = pick(new, m), pick(ref, m)
        diff = exact_mean(a) - exact_mean(b)
        out[m] = MeanEstimate(diff, mcse(a - b), int(a.size))
    d_cost, d_qaly = out["cost"].mean, out["qaly"].mean
    d_qaly_patient = pick(new, "qaly") - pick(ref, "qaly")
    d_cost_patient = pick(new, "cost") - pick(ref, "cost")
    inmb = {}
    for lam in wtp:
        per_patient = lam * d_qaly_patient - d_cost_patient
        inmb[lam] = MeanEstimate(lam * d_qaly - d_cost, mcse(per_patient), int(per_patient.size))
    return Increment(strategy, comparator, out, compute_icer(d_cost, d_qaly), inmb)


def proportion(flags: np.ndarray) -> MeanEstimate:
    """Share of patients with a property, with its binomial standard error."""
    n = int(flags.size)
    p = float(np.count_nonzero(flags)) / n if n else 0.0
    se = float(np.sqrt(p * (1.0 - p) / n)) if n > 1 else None
    return MeanEstimate(p, se, n)

