"""Tables of threshold analysis (:mod:`cartsim.study.threshold`): ``threshold`` at the
point values, and ``threshold_draws`` and ``threshold_distribution`` across PSA draws.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from cartsim.study.dsa_tables import _formats, _header, _num, _value_format
from cartsim.table import Table

if TYPE_CHECKING:
    from cartsim.study.threshold import ThresholdDrawsResult, ThresholdResult

ROOT = "root"
ABOVE = "above upper"
BELOW = "below lower"
UNDETERMINED = "undetermined"
"""A draw's status: a root in the bracket, or where its threshold lies beyond it."""


def threshold_table(result: ThresholdResult) -> Table:
    """One row per strategy and willingness to pay."""
    columns = ("strategy", "comparator", "parameter", "wtp", "threshold", "unit",
               "interval_low", "interval_high", "status", "base_value", "lower", "upper",
               "inmb_at_lower", "inmb_at_upper", "inmb_mcse_at_threshold", "slope")
    rows = tuple((r.strategy, result.info.comparator, result.parameter, r.wtp, _num(r.value),
                  result.unit, _num(r.interval_low), _num(r.interval_high), r.status,
                  result.base, result.lower, result.upper, _num(r.inmb_lower),
                  _num(r.inmb_upper), _num(r.inmb_se), _num(r.slope)) for r in result.rows)
    notes = (_header(result.info),
             "threshold: the value of the parameter (in unit, as written in the scenario; "
             "costs before any cost_conversion) at "
             "which INMB = wtp x inc_qaly - inc_cost is 0, found by Brent's method between "
             "lower and upper with every other parameter at its point value; NA if INMB has "
             "the same sign at both ends (status says which).",
             "interval_low, interval_high: Monte Carlo 95% interval of the threshold, "
             "threshold +/- 1.96 x inmb_mcse_at_threshold / |slope| (delta method); it "
             "reflects the finite number of simulated patients, not parameter uncertainty. "
             "slope: change in INMB per unit of the parameter near the threshold (finite "
             "difference on the same random numbers).",
             "inmb_at_lower, inmb_at_upper: INMB at the ends of the search range; base_value: "
             "the parameter's point value.")
    value = _value_format(result.unit)
    return Table("threshold", f"Threshold analysis: {result.parameter}", columns, rows, notes,
                 {**_formats(columns), "wtp": "money", "slope": "float",
                  **dict.fromkeys(("threshold", "interval_low", "interval_high", "base_value",
                                   "lower", "upper"), value)})


def threshold_draws_tables(result: ThresholdDrawsResult) -> list[Table]:
    """``threshold_draws`` (a row per draw, strategy and WTP) and ``threshold_distribution``
    (a row per strategy and WTP)."""
    info, value = result.info, _value_format(result.unit)
    option_columns = result.option_columns
    columns = ("draw", "strategy", "comparator", "wtp", "threshold", "status",
               "drawn_value", "inmb_at_lower", "inmb_at_upper", *option_columns)
    rows = tuple((r.draw, r.strategy, info.comparator, r.wtp, _num(r.value), r.status,
                  r.drawn_value, _num(r.inmb_lower), _num(r.inmb_upper),
                  *(name for _, name in r.options)) for r in result.rows)
    bracket = f"[{result.lower:g}, {result.upper:g}] {result.unit}"
    common = (_header(info),
              f"{result.parameter}: the value (in {result.unit}, as written in the scenario) "
              "at which INMB = wtp x inc_qaly - inc_cost is 0 in each PSA draw, with every "
              "other parameter at that draw's value (the draws of `cartsim psa` with the same "
              f"seed) and the draw's random numbers; Brent's method on {bracket}.")
    draws = Table("threshold_draws", f"Threshold of {result.parameter} in each PSA draw",
                  columns, rows, (*common,
                  "status: root, or 'above upper' / 'below lower' when INMB has one sign over "
                  "the whole range (the threshold lies beyond that end), or 'undetermined' "
                  "(INMB equal at both ends). drawn_value: the parameter's own value in the "
                  "draw, for comparison.",
                  *(("The last columns, one per [[structural]] choice (named as in psa.csv: "
                     "its dotted key, or <key>.option when the key is a parameter), hold the "
                     "option the draw takes, the same as in `cartsim psa`.",)
                   if option_columns else ())),
                  {**_formats(columns), "wtp": "money", "threshold": value,
                   "drawn_value": value, "draw": "int",
                   **dict.fromkeys(option_columns, "text")})
    cols = ("strategy", "comparator", "wtp", "draws", "with_root", "share_no_root",
            "above_upper", "below_lower", "undetermined", "mean_given_root", "median",
            "low_2_5", "high_97_5", "lower", "upper", "base_value")
    summary = tuple((x.strategy, info.comparator, x.wtp, x.draws, x.with_root,
                     (x.draws - x.with_root) / x.draws, x.above_upper, x.below_lower,
                     x.undetermined, _num(x.mean_given_root), _num(x.median), _num(x.low),
                     _num(x.high), result.lower, result.upper, result.base)
                    for x in summarise_threshold_draws(result))
    notes = (*common,
             "with_root: draws with a threshold inside the range; share_no_root: the share "
             "without one (above_upper + below_lower + undetermined, over draws). "
             "mean_given_root: mean over draws with a root only (conditional; biased when "
             "share_no_root is large).",
             "median, low_2_5, high_97_5: 50%, 2.5% and 97.5% quantiles (numpy 'linear', "
             "type 7) over all placed draws, counting a draw without a root as lying beyond "
             "the end of the range where its threshold is; NA when the quantile falls among "
             "those draws (it is then beyond lower or upper), and undetermined draws left "
             "out.")
    dist = Table("threshold_distribution", f"Distribution of the threshold of "
                 f"{result.parameter} over PSA draws", cols, summary, notes,
                 {**_formats(cols), "wtp": "money", "share_no_root": "prob",
                  **dict.fromkeys(("mean_given_root", "median", "low_2_5", "high_97_5",
                                   "lower", "upper", "base_value"), value),
                  **dict.fromkeys(("draws", "with_root", "above_upper", "below_lower",
                                   "undetermined"), "int")})
    return [draws, dist]


def censored_quantile(values: Sequence[float], q: float) -> float | None:
    """Type-7 (numpy 'linear') quantile of values that may be ±inf (roots beyond the
    bracket); None when it depends on an infinite value.

    >>> censored_quantile([1.0, 2.0, 3.0, math.inf], 0.5)
    2.5
    >>> censored_quantile([1.0, math.inf, math.inf], 0.5) is None
    True
    """
    x = np.sort(np.asarray(values, dtype=float))
    if x.size == 0:
        return None
    h = (x.size - 1) * q
    lo, hi = math.floor(h), math.ceil(h)
    if not (math.isfinite(x[lo]) and math.isfinite(x[hi])):
        return None
    return float(x[lo] + (h - lo) * (x[hi] - x[lo]))


@dataclass(frozen=True)
class ThresholdSummary:
    strategy: str
    wtp: float
    draws: int
    with_root: int
    above_upper: int
    below_lower: int
    undetermined: int
    mean_given_root: float | None
    median: float | None
    low: float | None
    high: float | None


def summarise_threshold_draws(result: ThresholdDrawsResult) -> list[ThresholdSummary]:
    """Per strategy and WTP: counts by status and the distribution of the threshold."""
    out = []
    keys = dict.fromkeys((r.strategy, r.wtp) for r in result.rows)
    for s, w in keys:
        rows = [r for r in result.rows if (r.strategy, r.wtp) == (s, w)]
        count = {st: sum(r.status == st for r in rows) for st in (ROOT, ABOVE, BELOW,
                                                                   UNDETERMINED)}
        placed = [r.value if r.value is not None else math.inf if r.status == ABOVE
                  else -math.inf for r in rows if r.status != UNDETERMINED]
        roots = [r.value for r in rows if r.value is not None]
        mean = math.fsum(roots) / len(roots) if roots else None
        out.append(ThresholdSummary(s, w, len(rows), count[ROOT], count[ABOVE], count[BELOW],
                                    count[UNDETERMINED], mean,
                                    *(censored_quantile(placed, q) for q in (0.5, 0.025,
                                                                            0.975))))
    return out
