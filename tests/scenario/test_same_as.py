"""``same_as``: one parameter used in two places of a custom pathway.

The CAR-T arm's post-relapse state is the IS arm's state; written with
``same_as`` its utility, cost and hazard are the IS arm's parameters themselves,
so a PSA draws them once and both arms use the draw (VERIFICATION B6, KV-REF).
"""

from __future__ import annotations

import cartsim

IS_PATH = "strategies.immunosuppression.states.on_is"
CART_ON_IS = """[strategies.cart.states.on_is]
utility = 0.60
cost = { drugs = 20000 }
death = { rate = 0.04 }
"""
SHARED = f"""[strategies.cart.states.on_is]
utility = {{ same_as = "{IS_PATH}.utility" }}
cost = {{ drugs = {{ same_as = "{IS_PATH}.cost.drugs" }} }}
death = {{ rate = {{ same_as = "{IS_PATH}.death.rate" }} }}
"""


def test_shared_parameters_are_one_parameter(kv_text, edit, write_toml):
    text = edit(kv_text, "utility = 0.60\ncost = { drugs = 20000 }\n",
                'utility = { value = 0.60, dist = "beta", mean = 0.6, se = 0.05 }\n'
                "cost = { drugs = 20000 }\n")
    text = text.replace(CART_ON_IS, SHARED)
    s = cartsim.load_scenario(write_toml(text))
    assert f"{IS_PATH}.utility" in s.parameters
    assert not any(n.startswith("strategies.cart.states.on_is") for n in s.parameters)
    # Changing the IS arm's value changes both arms: one parameter, used twice.
    low = cartsim.run_scenario(cartsim.load_scenario(
        write_toml(text), overrides=[f"{IS_PATH}.utility=0.3"]), patients=300)
    base = cartsim.run_scenario(s, patients=300)
    for arm in ("immunosuppression", "cart"):
        assert low.outcomes[arm]["qaly"].mean() < base.outcomes[arm]["qaly"].mean()


def test_same_as_errors_are_reported_together(kv_text, write_toml, cli):
    bad = SHARED.replace(f"{IS_PATH}.utility", f"{IS_PATH}.utilty").replace(
        f"{IS_PATH}.death.rate", f"{IS_PATH}.utility")
    result = cli(["check", write_toml(kv_text.replace(CART_ON_IS, bad))])
    assert result.exit_code == 2
    out = result.output
    assert "strategies.cart.states.on_is.utility.same_as" in out
    assert f"did you mean '{IS_PATH}.utility'" in out
    assert "strategies.cart.states.on_is.death.rate.same_as" in out
    assert "is a utility, but this place needs a rate" in out
