"""The argument bundles of the compiled kernel (named tuples of arrays, which numba
compiles and caches like arrays). Kept free of numba, so building them costs no JIT.

Index conventions: ``S`` states, ``E`` event codes (the log's event names), ``K``
channels, ``V`` valuation columns, ``J`` distinct discount rates of a column,
``G`` grid times, ``Y`` years; ``row`` is a row of numbers (a group, or a PSA
draw's group) and ``slot`` a simulated patient.
"""

from __future__ import annotations

from collections import namedtuple

Structure = namedtuple("Structure", [
    "states", "transitions", "chances", "outcomes", "recurring", "origin_timers",
    "origin_range", "start", "ev_start", "ev_death", "cause_death", "n_timers", "n_origins"])
"""``flatten.Plan.ints`` as the kernel reads it (columns named in ``flatten``)."""

Keys = namedtuple("Keys", ["simulation", "recurring"])
"""Philox keys (uint64 [P, 2]) of the simulation purposes ("death" first) and of the
recurring-event purposes (counted apart, as ``count_recurring`` does)."""

LifeTable = namedtuple("LifeTable", ["cum", "haz", "max_age"])
"""``cum[x, k]``, ``haz[x, k]`` (x = 0 women, 1 men); ``max_age`` inf without a table."""

Slots = namedtuple("Slots", ["patient", "draw", "row", "age", "female"])
"""Who is simulated: the patient's index (its random-number counter), the PSA draw,
its row of numbers, entry age and sex; one entry per slot."""

Accrual = namedtuple("Accrual", ["state_rate", "amount", "rates", "scaled", "norm_off",
                                 "norm_pool"])
"""What the kernel sums: ``state_rate[row, V, S, K]`` per year, ``amount[row, V, E, K]``
per event, channel k of column v discounted at continuous rate ``rates[v, k]``;
``scaled[k]``: channel k's state rate follows the age norm at ``norm_off[row, v]`` in
``norm_pool`` (-1: none)."""

Curves = namedtuple("Curves", ["on", "grid", "grid_state", "grid_amount", "grid_rate",
                               "years", "year_state", "year_amount", "year_rate",
                               "life_state", "life_rate"])
"""Curve sums to bin: a grid channel (cumulative at the ``grid`` times, discounted at
``grid_rate[v]``) and a yearly channel (in years 0..years-1, discounted at
``year_rate[v]`` and not), each a rate per state ``[row, V, S]`` and an amount per
event ``[row, V, E]``; and the life channel (cumulative at the grid times, discounted at
``life_rate[v]``): life-years, and the state utility ``life_state[row, V, S]`` of each stay
(no age norm, no one-off losses: with the life-years, the mean utility of the living that
equal-value life-years need)."""

Discounts = namedtuple("Discounts", ["table", "channel", "grid", "year", "state_nonzero",
                                     "event_nonzero"])
"""The distinct discount rates of each column ``table[v, j]`` and where each channel,
the grid curve and the yearly curve find theirs (``channel[v, k]``, ``grid[v]``,
``year[v]``): each discount factor is computed once per time and rate. And the
channels with a non-zero rate or amount, as [count, k...] per ``[row, v, state]``
and ``[row, v, event]``: most channels are zero for most states and events."""

Totals = namedtuple("Totals", ["sums", "counts", "end_time", "cause"])
"""Per slot: ``sums[V, K, 2, slot]`` (discounted, undiscounted), ``counts[E, slot]``
(int32: a million patients' counts of every event fit in less memory),
end time and cause code (-1 alive at the horizon); slots last, so that each
per-patient column is one contiguous row."""

Bins = namedtuple("Bins", ["grid", "occupancy", "dead", "years"])
"""Curve bins (added over slots): ``grid[V, 7, G + 1]`` (stays' e^{-ra} terms, open
rates, events; then the life channel's e^{-ra} terms and open rates of life-years and of
state utility), ``occupancy[G + 1, S]`` and ``dead[G + 1]`` (counts starting at a
grid index), ``years[V, 2, 3, Y + 1]`` (discounted and not: stays' antiderivative
terms, open rates, events)."""

LogRows = namedtuple("LogRows", [
    "soj_patient", "soj_state", "soj_start", "soj_end", "soj_seq",
    "ev_patient", "ev_code", "ev_time", "ev_seq", "rec_sojourn", "rec_event", "rec_count"])
"""The event log's columns (written in mode 2)."""

Scratch = namedtuple("Scratch", ["use", "rec_use", "timers", "first_set", "acc", "dd", "df",
                                 "df_at", "rdf", "rec_counts", "cursor", "n_log",
                                 "pending_event", "pending_time", "grid_df", "year_df",
                                 "grid_df_b"])
"""Per-patient working arrays (reset for each slot): uses of each purpose, origin
timers and first-set times, partial sums ``acc[3, V, K, 2]`` (sojourns, events,
recurring), discount factors ``[V, J]`` (``df`` cached at times ``df_at``), the last
stay's recurring counts, the grid index of the last time looked up, and the log's row
counters ``n_log[3]`` (sojourns, events,
recurring rows; never reset)."""
