"""The compiled interpreter: one patient's lifetime at a time over a flattened plan.

``run_slots`` simulates patient *slots* (a patient of the cohort in a PSA draw,
with its row of numbers) under the rules of the simpy engine (``simpy_engine.py``:
horizon, ties, death budget, origin clocks, guards, recurring counts) and with
the same random numbers, and sums as it goes, for V valuation columns and K
channels handed to it as arrays (``kernel_types.Accrual``), each channel's
discounted and undiscounted total: a rate per state over each sojourn (scaled
by an age norm where asked), an amount per event at its time, and count x
amount at the sojourn's mean discount factor for recurring events. The three
kinds are summed apart and added at the end, in the order ``value_log`` adds
its columns. It can also bin curve sums on a grid and write the event log
(``mode``: 0 totals only, 1 count log rows, 2 write them too).

What happens at each event and stay (counting, valuing, logging) is written as
closures, which numba inlines: each has one call site (events wait in a short
queue and are recorded at the top of the loop), because compile time grows with
every inlined copy. Death-time arithmetic is in ``kernel_mortality``, event
times in ``kernel_times``, curve bins in ``kernel_curves``. Nothing here
allocates, so it is compiled without reference counting, which otherwise cost
more than the arithmetic.
"""

from __future__ import annotations

import math

import numpy as np

from cartsim.engine.flatten import (
    CH_CLOCK,
    CH_ELSE,
    CH_GUARD,
    CH_NUM,
    CH_ORIGIN,
    CH_OUT_HI,
    CH_OUT_LO,
    CH_PURPOSE,
    CH_THEN,
    DEAD_NODE,
    NO_NODE,
    NO_TIMER,
    OT_PURPOSE,
    OT_TIME,
    OT_TIMER,
    OUT_CAUSE,
    OUT_EVENT,
    OUT_TO,
    REC_EVENT,
    REC_PURPOSE,
    REC_RATE,
    ST_LOG,
    ST_MORT,
    ST_ORIGIN,
    ST_REC_HI,
    ST_REC_LO,
    ST_TR_HI,
    ST_TR_LO,
    STATE_TIMER,
    TR_CAUSE,
    TR_EVENT,
    TR_PURPOSE,
    TR_TIME,
    TR_TIMER,
    TR_TO,
)
from cartsim.engine.jit import entry
from cartsim.engine.kernel_curves import bin_event, bin_stay, grid_index
from cartsim.engine.kernel_mortality import (
    death_cause,
    integral,
    same_mortality,
    time_of_death,
)
from cartsim.engine.kernel_times import draws_number, fixed_time, sample_time, uniform
from cartsim.engine.kernel_value import age_scaled, poisson_count

INF = math.inf
STUCK = 1
"""Status: a patient would stay in a state forever (no exit before the horizon)."""
HORIZON, DEATH = -1, -2
CHAIN, STAY = 0, 1


@entry
def run_slots(st, num, keys, table, slots, acc, disc, cur, tot, bins, log, sc, mode, horizon,
              first, stop):
    """Simulate slots ``first`` to ``stop - 1`` in order; returns (status, slot): (0, stop)
    when all went well, (STUCK, slot) with that slot's state in ``tot.cause[slot]``
    otherwise. Each slot writes only its own column of ``tot``, so parts of the slots
    can run at once on threads (the GIL is released), each with its own ``bins`` and
    ``sc``."""
    states, transitions, chances, outcomes = st.states, st.transitions, st.chances, st.outcomes
    recurring, origin_timers, origin_range = st.recurring, st.origin_timers, st.origin_range
    n_states = states.shape[0]
    cum, haz, max_age = table.cum, table.haz, table.max_age
    patients, draws, ages, females = slots.patient, slots.draw, slots.age, slots.female
    sim_keys, rec_keys = keys.simulation, keys.recurring
    rates, channel, state_k, event_k = disc.table, disc.channel, disc.state_nonzero, \
        disc.event_nonzero
    n_cols, n_rates = rates.shape[0], rates.shape[1]
    use, rec_use, timers, first_set = sc.use, sc.rec_use, sc.timers, sc.first_set
    part, dd, df, df_at, rdf, n_log = sc.acc, sc.dd, sc.df, sc.df_at, sc.rdf, sc.n_log
    pending_event, pending_time = sc.pending_event, sc.pending_time

    def factor(v, j, t):
        # e^{-r t} for rate j of column v, computed once per time (a stay and the
        # events around it share their boundary times)
        if df_at[v, j] != t:
            r = rates[v, j]
            df[v, j] = 1.0 if r == 0.0 else math.exp(-r * t)
            df_at[v, j] = t
        return df[v, j]

    def draw(keys_, used, purpose, slot):
        k = used[purpose]
        used[purpose] = k + 1
        return uniform(keys_[purpose, 0], keys_[purpose, 1], patients[slot], np.uint64(k),
                       draws[slot])

    def record_event(e, t, seq, slot, row):
        tot.counts[e, slot] += 1
        for v in range(n_cols):
            for i in range(event_k[row, v, e, 0]):
                k = event_k[row, v, e, 1 + i]
                a = acc.amount[row, v, e, k]
                part[1, v, k, 0] += a * factor(v, channel[v, k], t)
                part[1, v, k, 1] += a
        if cur.on:
            for v in range(n_cols):
                sc.grid_df[v] = factor(v, disc.grid[v], t)
                sc.year_df[v] = factor(v, disc.year[v], t)
            bin_event(e, t, row, cur, bins, sc.cursor, sc.grid_df, sc.year_df)
        i = n_log[1]
        if mode == 2:
            log.ev_patient[i] = patients[slot]
            log.ev_code[i] = e
            log.ev_time[i] = t
            log.ev_seq[i] = seq
        n_log[1] = i + 1

    def record_stay(s, a, b, censored, seq, slot, row):
        # Value the stay, count its recurring events (a number per label with a
        # positive rate; their amounts at the stay's mean discount factor), bin it,
        # log it.
        width = b - a
        has_recurring = states[s, ST_REC_HI] > states[s, ST_REC_LO]
        for v in range(n_cols):
            for j in range(n_rates):  # discounted_duration, mean_discount_factor
                r = rates[v, j]
                if r == 0.0:
                    dd[v, j] = width
                elif width > 0.0:
                    dd[v, j] = factor(v, j, a) * -math.expm1(-r * width) / r
                else:
                    dd[v, j] = 0.0
                if has_recurring:  # the mean discount factor, for recurring events only
                    rdf[v, j] = dd[v, j] / width if width > 0.0 else factor(v, j, a)
            norm = acc.norm_off[row, v]
            for i in range(state_k[row, v, s, 0]):
                k = state_k[row, v, s, 1 + i]
                z = acc.state_rate[row, v, s, k]
                if acc.scaled[k] and norm >= 0:
                    d, u = age_scaled(acc.norm_pool, norm, females[slot], ages[slot], a, b, z,
                                      rates[v, channel[v, k]])
                    part[0, v, k, 0] += d
                    part[0, v, k, 1] += u
                else:
                    part[0, v, k, 0] += z * dd[v, channel[v, k]]
                    part[0, v, k, 1] += z * width
        log_state = states[s, ST_LOG]
        soj = n_log[0]
        if mode == 2:
            log.soj_patient[soj] = patients[slot]
            log.soj_state[soj] = log_state
            log.soj_start[soj] = a
            log.soj_end[soj] = b
            log.soj_seq[soj] = seq
        n_log[0] = soj + 1
        for q in range(states[s, ST_REC_LO], states[s, ST_REC_HI]):
            sc.rec_counts[q] = 0.0
            rate = num[row, recurring[q, REC_RATE]]
            if not rate > 0.0:
                continue
            n = poisson_count(draw(rec_keys, rec_use, recurring[q, REC_PURPOSE], slot),
                              rate * width)
            e = recurring[q, REC_EVENT]
            tot.counts[e, slot] += n
            sc.rec_counts[q] = n
            for v in range(n_cols):
                for i in range(event_k[row, v, e, 0]):
                    k = event_k[row, v, e, 1 + i]
                    z = acc.amount[row, v, e, k]
                    part[2, v, k, 0] += (n * z) * rdf[v, channel[v, k]]
                    part[2, v, k, 1] += n * z
            i = n_log[2]
            if mode == 2:
                log.rec_sojourn[i] = soj
                log.rec_event[i] = e
                log.rec_count[i] = n
            n_log[2] = i + 1
        if cur.on and width > 0.0:
            for v in range(n_cols):
                sc.grid_df[v] = factor(v, disc.grid[v], a)
                sc.grid_df_b[v] = factor(v, disc.grid[v], b)
            bin_stay(s, log_state, a, b, censored, row, st, cur, bins, sc.cursor, sc.rec_counts,
                     cur.grid_rate, sc.grid_df, sc.grid_df_b)

    def set_origin(o, t, slot, row):
        # note when the origin was first set; sample its clocked timers (a number for
        # each, whatever its family, as the simpy engine does)
        if first_set[o] == INF:
            first_set[o] = t
        for i in range(origin_range[o], origin_range[o + 1]):
            u = draw(sim_keys, use, origin_timers[i, OT_PURPOSE], slot)
            timers[origin_timers[i, OT_TIMER]] = t + sample_time(
                num, row, origin_timers[i, OT_TIME], u, ages[slot], females[slot])

    for slot in range(first, stop):
        row = slots.row[slot]
        age0, female = ages[slot], females[slot]
        x = 0 if female else 1
        use[:] = 0
        rec_use[:] = 0
        timers[:] = INF
        first_set[:] = INF
        part[:] = 0.0
        df_at[:] = math.nan
        sc.cursor[0] = 0
        budget = -math.log(draw(sim_keys, use, 0, slot))
        t, end, cause = 0.0, 0.0, -1
        if horizon > 0.0:
            seq = 0
            pending_event[0], pending_time[0] = st.ev_start, 0.0
            waiting = 1
            node, phase, done = st.start, CHAIN, False
            m_now, m_since, t_death, mo = -1, 0.0, INF, -1
            s, best, best_time = -1, HORIZON, horizon
            while True:
                for p in range(waiting):  # events are recorded here, in order
                    record_event(pending_event[p], pending_time[p], seq, slot, row)
                    seq += 1
                waiting = 0
                if done:
                    break
                if phase == CHAIN:
                    chain_cause = -1
                    while node >= n_states:  # chance nodes, resolved at once
                        c = node - n_states
                        off = chances[c, CH_NUM]
                        if chances[c, CH_GUARD]:
                            clock = chances[c, CH_CLOCK]
                            if age0 + t > num[row, off + 1] or (
                                    clock >= 0 and t - first_set[clock] > num[row, off + 2]):
                                node = chances[c, CH_ELSE]
                                continue
                        if chances[c, CH_ORIGIN] >= 0:
                            set_origin(chances[c, CH_ORIGIN], t, slot, row)
                        certain = int(num[row, off])
                        lo, hi = chances[c, CH_OUT_LO], chances[c, CH_OUT_HI]
                        chosen = -1
                        if certain == -2:  # a number decides
                            pick = 1.0 - draw(sim_keys, use, chances[c, CH_PURPOSE], slot)
                            for k in range(hi - lo):
                                if pick < num[row, off + 3 + k]:
                                    chosen = lo + k
                                    break
                        elif certain >= 0:
                            chosen = lo + certain
                        nxt = chances[c, CH_THEN]
                        if chosen >= 0:
                            e = outcomes[chosen, OUT_EVENT]
                            if e >= 0:
                                pending_event[waiting], pending_time[waiting] = e, t
                                waiting += 1
                                chain_cause = outcomes[chosen, OUT_CAUSE]
                            if outcomes[chosen, OUT_TO] != NO_NODE:
                                nxt = outcomes[chosen, OUT_TO]
                        node = nxt
                    if node == DEAD_NODE:
                        end, cause = t, chain_cause if chain_cause >= 0 else st.cause_death
                        done = True
                        continue
                    s = node
                    if states[s, ST_ORIGIN] >= 0:
                        set_origin(states[s, ST_ORIGIN], t, slot, row)
                    best_time, best = horizon, HORIZON
                    mo = states[s, ST_MORT]
                    if m_now != mo and not same_mortality(num, row, m_now, mo):
                        if m_now >= 0:
                            budget -= integral(num, row, m_now, cum, haz, x, max_age, age0,
                                               m_since, t)
                        m_now, m_since = mo, t
                        t_death = (time_of_death(num, row, mo, cum, haz, x, max_age, age0, t,
                                                 budget) if budget > 0 else t)
                    if t_death < best_time:
                        best_time, best = t_death, DEATH
                    for tr in range(states[s, ST_TR_LO], states[s, ST_TR_HI]):
                        timer = transitions[tr, TR_TIMER]
                        off = transitions[tr, TR_TIME]
                        if timer == STATE_TIMER:  # sampled at each entry
                            if draws_number(num, row, off):
                                u = draw(sim_keys, use, transitions[tr, TR_PURPOSE], slot)
                                when = t + sample_time(num, row, off, u, age0 + t, female)
                            else:
                                when = t + fixed_time(num, row, off)
                        elif timer == NO_TIMER:
                            when = INF
                        else:
                            when = timers[timer]
                            if when < t:
                                when = INF
                        if when < best_time:
                            best_time, best = when, tr
                    if best_time == INF:
                        tot.cause[slot] = s
                        return STUCK, slot
                    phase = STAY  # record the chain's events first
                    continue
                record_stay(s, t, best_time, best == HORIZON, seq, slot, row)
                seq += 1
                phase, done = CHAIN, True
                if best == HORIZON:
                    end = horizon
                elif best == DEATH:
                    pending_event[0], pending_time[0] = st.ev_death, best_time
                    waiting = 1
                    end = best_time
                    cause = death_cause(num, row, mo, haz, x, max_age, age0, best_time,
                                        draw(sim_keys, use, 0, slot))
                else:
                    t = best_time
                    if transitions[best, TR_TIMER] >= 0:
                        timers[transitions[best, TR_TIMER]] = INF
                    pending_event[0], pending_time[0] = transitions[best, TR_EVENT], t
                    waiting = 1
                    node = transitions[best, TR_TO]
                    if node == DEAD_NODE:
                        end, cause = t, transitions[best, TR_CAUSE]
                    else:
                        done = False
        tot.end_time[slot] = end
        tot.cause[slot] = cause
        if cur.on and cause >= 0:
            bins.dead[grid_index(cur.grid, sc.cursor, end)] += 1
        for v in range(tot.sums.shape[0]):
            for k in range(tot.sums.shape[1]):
                for w in range(2):
                    tot.sums[v, k, w, slot] = (part[0, v, k, w] + part[1, v, k, w]) \
                        + part[2, v, k, w]
    return 0, stop
