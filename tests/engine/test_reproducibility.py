"""Battery D of VERIFICATION.md: reproducibility, stream isolation and CRN.

The RNG design (§6.5): one root seed; every uniform is Philox4x32-10 of the
counter (patient, use, draw) under a key hashed from (seed, purpose)
(``cartsim.rng``). So runs are exact functions of (seed, patient, purpose),
whatever else changes.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from cartsim.engine.simpy_engine import simulate_simpy
from cartsim.rng import Streams

P_CRS = "strategies.cart.chances.infusion.outcomes.crs.probability"


def assert_logs_equal(a, b) -> None:
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y, err_msg=f.name)
        else:
            assert x == y, f.name


def assert_outcomes_equal(a, b) -> None:
    assert set(a.columns) == set(b.columns)
    for name in a.columns:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_same_seed_gives_identical_arrays(kv):
    """D1: the same scenario and seed run twice: every per-patient output and every
    event-log array of every strategy is identical."""
    one = kv.run(kv.KV_REF_AE, patients=kv.N_EXACT, cache=False)
    two = kv.run(kv.KV_REF_AE, patients=kv.N_EXACT, cache=False)
    for strategy in one.outcomes:
        assert_outcomes_equal(one.outcomes[strategy], two.outcomes[strategy])
        assert_logs_equal(one.logs[strategy], two.logs[strategy])


def test_different_seeds_differ_but_agree_statistically(kv):
    """D2: seeds 20240601 and 20240602: per-patient outputs differ, but each arm's mean
    QALY, cost and LY and the paired ΔQ agree within 4·sqrt(SE1² + SE2²)."""
    a = kv.run(kv.KV_REF)
    b = kv.run(kv.KV_REF, seed=kv.SEED + 1)
    checks = []
    for strategy in a.outcomes:
        x, y = a.outcomes[strategy], b.outcomes[strategy]
        assert not np.array_equal(x["end_time"], y["end_time"])
        for name in ("qaly", "cost", "ly"):
            cx = kv.mean_check("", x[name], 0.0)
            cy = kv.mean_check("", y[name], 0.0)
            checks.append(type(cx)(f"{strategy} {name}: seed 1 − seed 2",
                                   cx.estimate - cy.estimate, 0.0, math.hypot(cx.se, cy.se)))
    dq = [r.outcomes["cart"]["qaly"] - r.outcomes["immunosuppression"]["qaly"] for r in (a, b)]
    c1, c2 = kv.mean_check("", dq[0], 0.0), kv.mean_check("", dq[1], 0.0)
    checks.append(type(c1)("dQ: seed 1 − seed 2", c1.estimate - c2.estimate, 0.0,
                           math.hypot(c1.se, c2.se)))
    kv.assert_within(checks)


def test_zero_probability_chance_node_moves_no_event(kv):
    """D8(a): adding an infusion chance node whose outcomes all have probability 0 leaves
    both arms' events and sojourns (by label and time) and every common output identical."""
    plain = kv.run(kv.KV_REF, patients=kv.N_EXACT)
    chance = kv.run(kv.KV_REF_AE, [f"{P_CRS}=0.0"], patients=kv.N_EXACT)
    for strategy in plain.outcomes:
        assert kv.named_events(chance.logs[strategy]) == kv.named_events(plain.logs[strategy])
        assert kv.named_sojourns(chance.logs[strategy]) == \
            kv.named_sojourns(plain.logs[strategy])
        a, b = chance.outcomes[strategy], plain.outcomes[strategy]
        for name in b.columns:
            np.testing.assert_array_equal(a[name], b[name], err_msg=f"{strategy}.{name}")


def test_costs_and_utilities_move_no_event(kv):
    """D8(b): changing costs, utilities and QALY losses changes no event or sojourn time."""
    base = kv.run(kv.KV_REF_AE, patients=kv.N_EXACT)
    other = kv.run(kv.KV_REF_AE, [
        "strategies.cart.upfront_cost.product=123456",
        "strategies.cart.states.remission.utility=0.5",
        "strategies.cart.states.remission.cost.monitoring=99999",
        "strategies.immunosuppression.states.on_is.utility=0.9",
        "strategies.immunosuppression.states.on_is.cost.drugs=1",
        "strategies.cart.events.crs.cost.adverse_events=1",
        "strategies.cart.events.crs.qaly_loss=0.5",
    ], patients=kv.N_EXACT)
    for strategy in base.outcomes:
        assert kv.named_events(other.logs[strategy]) == kv.named_events(base.logs[strategy])
        assert kv.named_sojourns(other.logs[strategy]) == kv.named_sojourns(base.logs[strategy])
        assert not np.array_equal(other.outcomes[strategy]["cost"],
                                  base.outcomes[strategy]["cost"])


THIRD = """
[strategies.alpha]
start = "coin"
upfront_cost = 5000
[strategies.alpha.chances.coin]
then = "well"
[strategies.alpha.chances.coin.outcomes.heads]
probability = 0.5
to = "sick"
[strategies.alpha.states.well]
utility = 0.9
death = { rate = 0.02 }
recurring = { checkup = 2.0 }
[strategies.alpha.states.well.transitions.progress]
to = "sick"
dist = "weibull"
shape = 2
scale = 5
[strategies.alpha.states.sick]
utility = 0.4
death = { rate = 0.2 }
"""


def test_adding_a_strategy_leaves_the_others_bit_identical(kv):
    """D8(c): a third strategy ("alpha", simulated first, with its own purposes and
    another draw on the shared death stream) leaves both other arms bit-identical."""
    base = kv.run(kv.KV_REF, patients=kv.N_EXACT)
    three = kv.run(kv.KV_REF + THIRD, patients=kv.N_EXACT)
    assert three.strategies[0] == "alpha"
    for strategy in base.outcomes:
        assert_outcomes_equal(three.outcomes[strategy], base.outcomes[strategy])
        assert_logs_equal(three.logs[strategy], base.logs[strategy])


def _prefix(log, n: int):
    """Rows of patients < n of an event log, as a dict of arrays."""
    s, e = log.sojourn_patient < n, log.event_patient < n
    return {
        "sojourn": [log.sojourn_patient[s], log.sojourn_state[s], log.sojourn_start[s],
                    log.sojourn_end[s]],
        "event": [log.event_patient[e], log.event_code[e], log.event_time[e]],
        "end": [log.end_time[:n], log.cause[:n]],
    }


def test_first_patients_do_not_depend_on_the_number_of_patients(kv, agree):
    """D9: N = 1000, 2000 and 5000 (which spans two simulation chunks of 4096), same seed:
    the first 1000 (and 2000) patients have the same histories and outputs. The arrays
    the engines take logs and exps of are of other lengths, so amounts are
    compared at 1e-12 relative (they are equal bits on the machines measured), and
    patients, states, codes and causes exactly."""
    runs = {n: kv.run(kv.KV_REF_AE, patients=n) for n in (1000, 2000, 5000)}
    for small, big in ((1000, 2000), (2000, 5000), (1000, 5000)):
        for strategy in runs[small].outcomes:
            a, b = runs[small].outcomes[strategy], runs[big].outcomes[strategy]
            for name in a.columns:
                agree.assert_agree(a[name], b[name][:small], f"{strategy}.{name}",
                                   patient=np.arange(small))
            pa, pb = _prefix(runs[small].logs[strategy], small), \
                _prefix(runs[big].logs[strategy], small)
            for key in pa:
                who = np.arange(small) if key == "end" else pa[key][0]
                for x, y in zip(pa[key], pb[key], strict=True):
                    agree.assert_agree(x, y, f"{strategy} {key} rows", patient=who)


def test_chunk_size_does_not_change_the_log(kv, agree):
    """D9 (worker independence): the simpy engine simulating the same patients in
    chunks of 7 gives the event log of the (compiled) run in chunks of 65,536 (each
    number is a function of its counter): the same rows, times within 1e-12 relative
    (the engines' log and exp may round differently in the last bit)."""
    res = kv.run(kv.KV_REF_AE + THIRD, patients=300)
    inputs = res.cohort
    for strategy, model in res.models.items():
        log = simulate_simpy(model.pathways, inputs, life_table=None, horizon=math.inf,
                             streams=Streams(kv.SEED), chunk_size=7)
        agree.assert_logs_agree(log, res.logs[strategy], f"{strategy} log")


def test_simpy_chunk_size_changes_no_bit(kv):
    """The same engine cut into chunks of 7 and of 100: the identical event log."""
    res = kv.run(kv.KV_REF_AE + THIRD, patients=300)
    for model in res.models.values():
        logs = [simulate_simpy(model.pathways, res.cohort, life_table=None,
                               horizon=math.inf, streams=Streams(kv.SEED), chunk_size=size)
                for size in (7, 100)]
        assert_logs_equal(logs[0], logs[1])


def test_common_random_numbers_reduce_the_variance_of_the_increment(kv):
    """D10: CRN on vs off at n = 20,000: SE(ΔQ) paired under CRN < 0.8 × sqrt(SE_A² + SE_B²)
    without CRN (about 0.02 vs 0.05); both ΔQ estimates within 4 SE of 3.0; the switch
    really changes the streams."""
    on = kv.run(kv.KV_REF)
    off = kv.run(kv.KV_REF, crn=False)
    cf = kv.closed_form()
    d_on = on.outcomes["cart"]["qaly"] - on.outcomes["immunosuppression"]["qaly"]
    crn = kv.mean_check("dQ with CRN (paired SE)", d_on, cf["d_qaly"])
    arm_a = kv.mean_check("", off.outcomes["cart"]["qaly"], 0.0)
    arm_b = kv.mean_check("", off.outcomes["immunosuppression"]["qaly"], 0.0)
    no_crn = type(crn)("dQ without CRN", arm_a.estimate - arm_b.estimate, cf["d_qaly"],
                       math.hypot(arm_a.se, arm_b.se))
    kv.assert_within([crn, no_crn])
    assert crn.se < 0.8 * no_crn.se, (crn.se, no_crn.se)
    for strategy in on.outcomes:
        assert not np.array_equal(on.outcomes[strategy]["end_time"],
                                  off.outcomes[strategy]["end_time"])


# --- cartsim.rng.Streams -------------------------------------------------------


@pytest.mark.parametrize("purpose", ["death", "relapse", "crs"])
@pytest.mark.parametrize("use", [0, 1, 40])
@pytest.mark.parametrize(("start", "stop"), [(0, 1), (3, 10), (4095, 4100), (9990, 10000)])
def test_streams_column_is_a_slice_of_the_full_column(purpose, use, start, stop):
    """Prefix stability / worker independence: column(p, k, a, b) == column(p, k, 0, b)[a:b]
    exactly, for any use k (there is no limit on how often a patient uses a purpose);
    values lie in (0, 1]."""
    streams = Streams(20240601)
    part = streams.column(purpose, use, start, stop)
    full = Streams(20240601).column(purpose, use, 0, stop)
    assert part.shape == (stop - start,)
    np.testing.assert_array_equal(part, full[start:stop])
    assert np.all((part > 0.0) & (part <= 1.0))


def test_streams_are_keyed_by_seed_draw_purpose_use_and_salt():
    """Streams differ by seed, draw, purpose, use and CRN salt, and never depend on call
    order."""
    base = Streams(7).column("relapse", 0, 0, 50)
    assert not np.array_equal(base, Streams(8).column("relapse", 0, 0, 50))
    assert not np.array_equal(base, Streams(7, draw=1).column("relapse", 0, 0, 50))
    assert not np.array_equal(base, Streams(7).column("crs", 0, 0, 50))
    assert not np.array_equal(base, Streams(7).column("relapse", 1, 0, 50))
    assert not np.array_equal(base, Streams(7).unsynchronised("cart").column("relapse", 0, 0, 50))
    s = Streams(7)
    s.column("crs", 0, 0, 10)
    np.testing.assert_array_equal(s.column("relapse", 0, 0, 50), base)
    with pytest.raises(ValueError):
        Streams(-1)


CYCLE = """
model = "custom"
[run]
horizon = 10
life_table = "none"
[strategies.cycle]
start = "a"
[strategies.cycle.states.a]
utility = 1
recurring = {{ flare = 3.0 }}
[strategies.cycle.states.a.transitions.go]
to = "b"
rate = {rho}
[strategies.cycle.states.b]
utility = 0.5
[strategies.cycle.states.b.transitions.back]
to = "a"
rate = {rho}
"""


def test_engine_many_uses_of_a_purpose_are_reproducible_and_prefix_stable(kv):
    """A two-state cycle a <-> b at rate ρ = 10 each way (about 5ρ = 50 entries into a in
    10 years) makes "go" and "flare" use many numbers per patient; runs stay identical
    across repeats and patient 0 is the same in runs of 1 and 200 patients. The mean flare
    count matches 3 × E[time in a] = 3 × (5 + (1 − e^{−20ρ})/(4ρ)) at 4 SE (sample SD),
    so late uses behave as fresh uniforms."""
    rho = 10.0
    text = CYCLE.format(rho=rho)
    one = kv.run(text, patients=1, cache=False)
    many = kv.run(text, patients=200, cache=False)
    again = kv.run(text, patients=200, cache=False)
    log = many.logs["cycle"]
    entries = np.bincount(log.sojourn_patient[log.sojourn_state == log.state_code("a")])
    assert np.mean(entries > 32) > 0.5  # many uses per patient
    assert_outcomes_equal(many.outcomes["cycle"], again.outcomes["cycle"])
    assert_logs_equal(many.logs["cycle"], again.logs["cycle"])
    for name, values in one.outcomes["cycle"].columns.items():
        assert values[0] == many.outcomes["cycle"][name][0], name
    # Two-state chain, equal rates ρ, from a: P(in a at t) = (1 + e^{−2ρt})/2.
    time_in_a = 5.0 + -math.expm1(-20.0 * rho) / (4.0 * rho)
    flares = many.outcomes["cycle"]["n_flare"]
    kv.assert_within(kv.mean_check("flares", flares, 3.0 * time_in_a))
