"""Jointly drawn parameters: [[correlations]] (Gaussian copula) and [[dirichlet]] sets (E8, E2)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import special, stats

import cartsim
from cartsim.cli import main
from cartsim.errors import ScenarioError
from cartsim.params.draws import draw_parameters

ROOT = Path(__file__).resolve().parents[2]
CART = "strategies.cart"
U_REM = f"{CART}.states.remission.utility"
C_MON = f"{CART}.states.remission.cost.monitoring"
RELAPSE = f"{CART}.states.remission.transitions.relapse.rate"
U_IS = "strategies.is.states.on_is.utility"
P = [f"{CART}.chances.infusion.outcomes.{e}.probability" for e in ("crs", "icans", "death")]

SCENARIO = """
model = "custom"
[run]
seed = 3
life_table = "none"
comparator = "is"
[strategies.is]
start = "on_is"
[strategies.is.states.on_is]
utility = { value = 0.6, dist = "beta", alpha = 60, beta = 40 }
cost = { drugs = 20000 }
death = { rate = 0.04 }
[strategies.cart]
start = "infusion"
upfront_cost = 350000
[strategies.cart.chances.infusion]
then = "remission"
[strategies.cart.chances.infusion.outcomes.crs]
probability = { value = 0.5, dist = "beta", alpha = 5, beta = 5 }
[strategies.cart.chances.infusion.outcomes.icans]
probability = 0.1
[strategies.cart.chances.infusion.outcomes.death]
probability = 0.02
to = "dead"
[strategies.cart.states.remission]
utility = { value = 0.85, dist = "beta", alpha = 17, beta = 3 }
cost = { monitoring = { value = 2000, dist = "gamma", shape = 4, scale = 500 } }
death = { rate = 0.015 }
[strategies.cart.states.remission.transitions.relapse]
to = "is_after"
rate = { value = 0.1, dist = "gamma", shape = 2, scale = 0.05 }
[strategies.cart.states.is_after]
utility = 0.6
cost = { drugs = 20000 }
death = { rate = 0.04 }
"""
CORRELATED = f"""
[[correlations]]
params = ["{U_REM}", "{C_MON}"]
rho = 0.6
source = "assumption"
[[correlations]]
params = ["{RELAPSE}", "{C_MON}"]
rho = -0.3
"""


def load(tmp_path: Path, extra: str = "", overrides: tuple[str, ...] = ()):
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO + extra, encoding="utf-8")
    return cartsim.load_scenario(path, overrides)


def problems(tmp_path: Path, extra: str) -> str:
    with pytest.raises(ScenarioError) as info:
        load(tmp_path, extra)
    return str(info.value)


def subset(s, names):
    return {n: s.parameters[n] for n in names}


def se_of_sd(m, k: int) -> float:
    """Large-sample SE of a sample SD: σ sqrt((κ - 1) / 4K), κ the (non-excess) kurtosis."""
    return m.std() * math.sqrt((float(m.stats(moments="k")) + 2.0) / (4 * k))


def fisher_ok(r: float, rho: float, n: int, factor: float = 1.0) -> bool:
    """|atanh r - atanh rho| <= 4 SE with SE = sqrt(factor / (n - 3))."""
    return abs(math.atanh(r) - math.atanh(rho)) <= 4 * math.sqrt(factor / (n - 3))


def test_e8_normal_scores_and_rank_correlations_match_the_declared_matrix(tmp_path):
    """E8: K = 20,000 draws. Mapping each drawn value back through its own marginal CDF
    and Φ⁻¹ gives normal scores whose sample correlation matrix is within 4 SE (Fisher z)
    of the declared one, the undeclared pair (0) included; Spearman's rank correlations
    are within 4 SE of (6/π) asin(ρ/2) (SE² = 1.06 / (K - 3), Fieller et al. 1957)."""
    s = load(tmp_path, CORRELATED)
    k = 20_000
    marginals = {U_REM: stats.beta(17, 3), C_MON: stats.gamma(4, scale=500),
                 RELAPSE: stats.gamma(2, scale=0.05)}
    # Only the block's parameters: a parameter's draws do not depend on the others'.
    d = draw_parameters(subset(s, marginals), range(1, k + 1), 8, (), s.joint)
    scores = {n: special.ndtri(m.cdf(d.values[n])) for n, m in marginals.items()}
    declared = {(U_REM, C_MON): 0.6, (RELAPSE, C_MON): -0.3, (U_REM, RELAPSE): 0.0}
    for (a, b), rho in declared.items():
        assert fisher_ok(np.corrcoef(scores[a], scores[b])[0, 1], rho, k), (a, b)
        rank = stats.spearmanr(d.values[a], d.values[b]).statistic
        assert fisher_ok(rank, 6 / math.pi * math.asin(rho / 2), k, 1.06), (a, b)
    for name, m in marginals.items():  # each keeps its own distribution (4 MCSE)
        x = d.values[name]
        assert abs(x.mean() - m.mean()) <= 4 * m.std() / math.sqrt(k)
        assert abs(x.std(ddof=1) - m.std()) <= 4 * se_of_sd(m, k)


def test_correlations_leave_other_parameters_and_draw_keys_unchanged(tmp_path):
    """E9 with correlations: a parameter outside every block draws exactly what it draws
    without them; draw k's values do not depend on which other draws are made."""
    plain, joint = load(tmp_path), load(tmp_path, CORRELATED)
    a = draw_parameters(plain.parameters, range(1, 201), 4, plain.probability_sets, plain.joint)
    b = draw_parameters(joint.parameters, range(1, 201), 4, joint.probability_sets, joint.joint)
    for name in (U_IS, P[0]):
        assert a.values[name].tolist() == b.values[name].tolist()
    assert a.values[U_REM].tolist() != b.values[U_REM].tolist()
    few = draw_parameters(joint.parameters, [0, 17, 200], 4, joint.probability_sets,
                          joint.joint)
    for name in (U_REM, C_MON, RELAPSE):
        assert few.values[name].tolist() == [joint.parameters[name].value,
                                              b.values[name][16], b.values[name][199]]


def test_entry_order_and_pair_order_change_nothing(tmp_path):
    """D6: the same correlations written in another order give the same draws and hash."""
    swapped = f"""
[[correlations]]
params = ["{C_MON}", "{RELAPSE}"]
rho = -0.3
[[correlations]]
params = ["{C_MON}", "{U_REM}"]
rho = 0.6
"""
    a, b = load(tmp_path, CORRELATED), load(tmp_path, swapped)
    assert a.canonical_hash == b.canonical_hash != load(tmp_path).canonical_hash
    da = draw_parameters(a.parameters, range(1, 51), 2, a.probability_sets, a.joint)
    db = draw_parameters(b.parameters, range(1, 51), 2, b.probability_sets, b.joint)
    assert all(da.values[n].tolist() == db.values[n].tolist() for n in a.parameters)
    assert load(tmp_path, CORRELATED.replace("0.6", "0.5")).canonical_hash != a.canonical_hash


def test_every_problem_is_reported_at_once(tmp_path):
    """Unknown names (with a suggestion), |rho| >= 1, a boolean rho, a fixed parameter, a
    duplicate pair, a parameter in a Dirichlet set and a correlation: one error, exit 2."""
    text = problems(tmp_path, f"""
[[correlations]]
params = ["{U_REM}", "{C_MON[:-3]}"]
rho = 0.5
[[correlations]]
params = ["{U_REM}", "{RELAPSE}"]
rho = 1.0
[[correlations]]
params = ["{U_REM}", "{RELAPSE}"]
rho = true
[[correlations]]
params = ["{U_REM}", "{P[1]}"]
rho = 0.2
[[correlations]]
params = ["{RELAPSE}", "{U_REM}"]
rho = 0.2
[[correlations]]
params = ["{U_IS}", "{P[0]}"]
rho = 0.2
[[dirichlet]]
params = ["{P[0]}", "{P[1]}"]
alphas = [1, 2, 3]
""")
    assert "5 problems" in text
    assert f"correlations[1].params[2]: unknown parameter; got '{C_MON[:-3]}'" in text
    assert f"did you mean '{C_MON}'?" in text
    assert "correlations[2].rho: must be strictly between -1 and 1" in text
    assert "correlations[3].rho: must be a correlation between -1 and 1, not a boolean" in text
    assert f"correlations[4].params: {P[1]} has no distribution" in text
    assert f"dirichlet[1].params: {P[0]} is already drawn jointly in correlations[6]" in text


def test_duplicate_pair_and_inconsistent_matrix_name_their_entries(tmp_path):
    """A pair declared twice, and three correlations that cannot hold together (not
    positive definite): the message names the parameters and the entries."""
    text = problems(tmp_path, f"""
[[correlations]]
params = ["{U_REM}", "{C_MON}"]
rho = 0.9
[[correlations]]
params = ["{C_MON}", "{RELAPSE}"]
rho = 0.9
[[correlations]]
params = ["{RELAPSE}", "{U_REM}"]
rho = -0.9
[[correlations]]
params = ["{C_MON}", "{U_REM}"]
rho = 0.1
""")
    assert f"correlations[4].params: {C_MON} and {U_REM} are already correlated in " \
           "correlations[1]" in text
    assert (f"the correlations among {C_MON}, {RELAPSE}, {U_REM} contradict each other"
            in text)
    assert "smallest eigenvalue" in text and "correlations[3]" in text


def test_section_must_be_an_array_of_tables(tmp_path):
    text = problems(tmp_path, '\n[correlations]\nrho = 0.3\n')
    assert "correlations: must be an array of tables" in text and "[[correlations]]" in text


def test_scalar_dirichlet_parameter_is_refused(tmp_path):
    """A Dirichlet on one parameter was silently never drawn; now it is an error."""
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO.replace("probability = 0.1", 'probability = { value = 0.1, '
                                     'dist = "dirichlet", alphas = [1, 9] }'), "utf-8")
    with pytest.raises(ScenarioError, match=r"icans\.probability\.dist: a Dirichlet "
                       "distribution describes several probabilities"):
        cartsim.load_scenario(path)


def test_set_on_the_command_line_takes_a_block_out_with_a_note(tmp_path):
    """--set fixes a parameter: its correlations (and Dirichlet set) are not applied, and
    the scenario says so instead of failing."""
    s = load(tmp_path, CORRELATED, (f"{C_MON}=2500",))
    assert s.joint.correlations == ()
    assert len(s.joint.notes) == 2 and "fixed by --set" in s.joint.notes[0]


DIRICHLET = f"""
[[dirichlet]]
params = ["{P[0]}", "{P[1]}", "{P[2]}"]
alphas = [6, 2, 0.5, 11.5]
source = "counts + 0.5"
"""


def test_e8_dirichlet_set_probabilities_and_marginals(tmp_path):
    """E8/E2: every draw of a Dirichlet set without a remainder sums to 1 within 1e-12;
    with a remainder each member's mean and SD are its Beta(α_j, α0 - α_j) marginal's
    within 4 MCSE, the members sum below 1, and draw 0 keeps the point values."""
    k = 5_000
    s = load(tmp_path, DIRICHLET)
    d = draw_parameters(subset(s, P), range(k + 1), 6, s.probability_sets, s.joint)
    total = sum(d.values[n][1:] for n in P)
    assert np.all(total < 1.0)
    assert [d.values[n][0] for n in P] == [0.5, 0.1, 0.02]
    for name, alpha in zip(P, (6, 2, 0.5), strict=True):
        m, x = stats.beta(alpha, 20 - alpha), d.values[name][1:]
        assert abs(x.mean() - m.mean()) <= 4 * m.std() / math.sqrt(k)
        assert abs(x.std(ddof=1) - m.std()) <= 4 * se_of_sd(m, k)
    whole = load(tmp_path, DIRICHLET.replace("0.5, 11.5", "0.5"))
    d = draw_parameters(subset(whole, P), range(1, 2001), 6, whole.probability_sets,
                        whole.joint)
    assert np.all(np.abs(sum(d.values[n] for n in P) - 1.0) <= 1e-12)
    assert set(P) <= set(d.random)


def test_independent_probability_sets_never_exceed_one(tmp_path):
    """E8 for the clinical model's CRS grades drawn as independent Betas: every draw's
    grades sum to at most 1 within 1e-12 (rescaled when they would exceed it)."""
    s = cartsim.load_scenario(ROOT / "scenarios" / "base.toml")
    names = [n for group in s.probability_sets for n in group]
    d = draw_parameters(subset(s, names), range(1, 2001), 9, s.probability_sets, s.joint)
    for group in s.probability_sets:
        assert np.all(sum(d.values[n] for n in group) <= 1.0 + 1e-12)


def test_params_command_lists_the_joint_draws(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO + CORRELATED + DIRICHLET, encoding="utf-8")
    result = CliRunner().invoke(main, ["params", str(path), "--format", "csv"])
    assert result.exit_code == 0, result.output
    table = result.output.split("\n\n")[-1]
    assert table.startswith("kind,parameters,rho,spearman,distribution,source")
    assert f"correlation,{C_MON} ~ {U_REM},0.6,{6 / math.pi * math.asin(0.3)!r}" in table
    assert "Dirichlet(6, 2, 0.5, 11.5) (last alpha: remainder category)" in table
