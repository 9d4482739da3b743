"""Curve bins of one stay or event, for the curves over time a run reports.

``compiled.curve_sums`` cumulates the bins after the run. The grid channel is
cumulative at the grid times: a stay [a, b) at rate z adds z e^{-ra} and z from
the first grid time after a, and subtracts z e^{-rb} and z from the first grid
time at or after b (so at grid time g it has accrued z (e^{-ra} - e^{-r min(b,g)})
/ r); an event adds its discounted amount from the first grid time at or after
it. The yearly channel does the same on the year ends 1..Y with the
antiderivative (1 - e^{-rt}) / r, discounted and not. The life channel is a grid
channel of every stay at rate 1 (life-years) and at its state utility, discounted at
the outcomes' rate. Occupancy counts a stay
from the first grid time at or after a to the first at or after b (a stay
censored at the horizon stays counted).

Used only by ``cartsim run`` (curves on), so a call per stay costs little;
compiled without reference counting like the rest of the kernel.
"""

from __future__ import annotations

import math

from cartsim.engine.flatten import REC_EVENT, ST_REC_HI, ST_REC_LO
from cartsim.engine.jit import leaf


@leaf
def grid_index(grid, cursor, t):
    """How many grid times are < t; the times a patient looks up never decrease, so
    the search starts where the last one ended (``cursor[0]``)."""
    i = cursor[0]
    while i < grid.shape[0] and grid[i] < t:
        i += 1
    cursor[0] = i
    return i


@leaf
def bin_event(e, t, row, cur, bins, cursor, grid_df, year_df):
    """An event's amounts: ``grid_df[v]``, ``year_df[v]`` are its discount factors."""
    for v in range(grid_df.shape[0]):
        a = cur.grid_amount[row, v, e]
        if a != 0.0:
            bins.grid[v, 2, grid_index(cur.grid, cursor, t)] += a * grid_df[v]
        a = cur.year_amount[row, v, e]
        if a != 0.0:
            i = min(cur.years, max(0, math.ceil(t) - 1))  # year ends 1..Y before t
            bins.years[v, 0, 2, i] += a * year_df[v]
            bins.years[v, 1, 2, i] += a


@leaf
def bin_stay(s, log_state, a, b, censored, row, st, cur, bins, cursor, rec_counts, grid_rate,
             df_a, df_b):
    """A stay in state ``s`` over [a, b) (b > a), with its recurring counts accruing like
    a rate over it; ``df_a``, ``df_b``: e^{-r a}, e^{-r b} at each column's grid rate."""
    width = b - a
    start_at = grid_index(cur.grid, cursor, a)
    began = start_at
    while began < cur.grid.shape[0] and cur.grid[began] <= a:
        began += 1
    ended = grid_index(cur.grid, cursor, b)
    ybegan = min(cur.years, max(0, math.floor(a)))
    yended = min(cur.years, max(0, math.ceil(b) - 1))
    for v in range(grid_rate.shape[0]):
        z = cur.grid_state[row, v, s]
        zy = cur.year_state[row, v, s]
        for q in range(st.states[s, ST_REC_LO], st.states[s, ST_REC_HI]):
            n = rec_counts[q]
            if n > 0.0:
                e = st.recurring[q, REC_EVENT]
                z = z + n * cur.grid_amount[row, v, e] / width
                zy = zy + n * cur.year_amount[row, v, e] / width
        if z != 0.0:
            if grid_rate[v] == 0.0:
                bins.grid[v, 0, began] -= z * a
                bins.grid[v, 0, ended] += z * b
            else:
                bins.grid[v, 0, began] += z * df_a[v]
                bins.grid[v, 0, ended] -= z * df_b[v]
            bins.grid[v, 1, began] += z
            bins.grid[v, 1, ended] -= z
        # the life channel: life-years (rate 1) and state utility, at the outcomes' rate
        r_life = cur.life_rate[v]
        if r_life == 0.0:
            la, lb = -a, b
        else:
            la, lb = math.exp(-r_life * a), -math.exp(-r_life * b)
        bins.grid[v, 3, began] += la
        bins.grid[v, 3, ended] += lb
        bins.grid[v, 4, began] += 1.0
        bins.grid[v, 4, ended] -= 1.0
        u = cur.life_state[row, v, s]
        if u != 0.0:
            bins.grid[v, 5, began] += u * la
            bins.grid[v, 5, ended] += u * lb
            bins.grid[v, 6, began] += u
            bins.grid[v, 6, ended] -= u
        if zy != 0.0:
            r = cur.year_rate[v]
            for w in range(2):  # 0: discounted, 1: undiscounted
                fa, fb = a, b
                if w == 0 and r != 0.0:
                    fa, fb = -math.expm1(-r * a) / r, -math.expm1(-r * b) / r
                bins.years[v, w, 0, ybegan] -= zy * fa
                bins.years[v, w, 0, yended] += zy * fb
                bins.years[v, w, 1, ybegan] += zy
                bins.years[v, w, 1, yended] -= zy
    bins.occupancy[start_at, log_state] += 1
    if not censored:
        bins.occupancy[ended, log_state] -= 1
