"""Shared helpers of the verification-contract tests run through the command line.

These tests check VERIFICATION.md (groups A-H and the test hooks of section 6)
the way an outside acceptance suite does: they write scenario TOML files, run
``cartsim`` (in-process through click's CliRunner, or as a subprocess where
signals, processes or resource limits matter) and read only what it writes:
the CSV tables, ``run.json``, PSA checkpoints and exit codes. No cartsim
module is imported except the CLI entry point.

Parameter values and seeds differ from the other test folders on purpose (a
"KV-REF prime" model with other rates, costs and utilities; an annual
discount rate). Seeds were fixed once and are never tuned (VERIFICATION §2.2).

Test files cannot import each other (``--import-mode=importlib``), so the
helpers are handed out by the session-scoped ``contract`` fixture. Runs are
cached by (command, scenario text, options): tests must treat the folders they
get as read-only.
"""

from __future__ import annotations

import csv
import math
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cartsim.cli import main

Z = 4.0
"""z-bound of one statistical check (VERIFICATION §2.2)."""
N_STAT = 20_000
"""Patients of the statistical checks (VERIFICATION §4 default); a run of this
size without --trace takes well under a second."""
SEED = 90210
"""Seed of the KV-REF-prime runs, chosen once."""
BAD_TOKENS = frozenset({"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity",
                        "+infinity", "-infinity"})
TRACE_KEYS = ("patient_id", "strategy", "row", "kind", "time", "end", "state_from",
              "state_to", "event", "count")
"""Trace columns that describe what happened (not what it was worth)."""
RELAPSE = "strategies.cart.states.remission.transitions.relapse.rate"


@dataclass(frozen=True)
class Check:
    """One statistical comparison: |estimate - truth| <= z * se."""

    what: str
    estimate: float
    truth: float
    se: float

    def ok(self, z: float) -> bool:
        return abs(self.estimate - self.truth) <= z * self.se

    def __str__(self) -> str:
        z = (self.estimate - self.truth) / self.se if self.se > 0 else math.nan
        return (f"{self.what}: estimate {self.estimate:.8g}, truth {self.truth:.8g}, "
                f"SE {self.se:.3g}, z = {z:+.2f}")


def kvref_text(*, lam: float = 0.12, mu_r: float = 0.02, mu_is: float = 0.05,
               u_r: float = 0.80, u_is: float = 0.55, c_r: float = 2500.0,
               c_is: float = 18000.0, c0: float = 300000.0, discount: float = 0.03,
               convention: str = "annual", horizon: str = '"lifetime"', seed: int = SEED,
               wtp: Sequence[float] = (30000, 80000), crs: tuple[float, float, float] | None
               = None, trm: float | None = None, extra: str = "") -> str:
    """KV-REF prime: the KV-REF structure of VERIFICATION §3 with other values.

    IS arm: one state ``on_is`` (death ``mu_is``, utility ``u_is``, drugs ``c_is``/yr).
    CAR-T arm: ``c0`` at t = 0, ``remission`` (``u_r``, monitoring ``c_r``/yr, death
    ``mu_r``), exponential relapse ``lam`` to its own ``on_is`` with the IS values.
    ``crs`` = (probability, cost, QALY loss) adds an infusion chance node; ``trm`` a
    treatment-related death branch of it. ``extra`` is appended verbatim.
    """
    start = "infusion" if crs or trm is not None else "remission"
    text = f"""\
model = "custom"
title = "KV-REF prime"
[run]
patients = 1000
seed = {seed}
horizon = {horizon}
discount = {{ costs = {discount!r}, outcomes = {discount!r}, convention = "{convention}" }}
life_table = "none"
wtp = [{", ".join(repr(float(w)) for w in wtp)}]
comparator = "immunosuppression"
currency = "GBP"
price_year = 2023
perspective = "NHS and PSS"

[strategies.immunosuppression]
start = "on_is"
[strategies.immunosuppression.states.on_is]
utility = {u_is!r}
cost = {{ drugs = {c_is!r} }}
death = {{ rate = {mu_is!r} }}

[strategies.cart]
start = "{start}"
upfront_cost = {{ product = {c0!r} }}
[strategies.cart.states.remission]
remission = true
utility = {u_r!r}
cost = {{ monitoring = {c_r!r} }}
death = {{ rate = {mu_r!r} }}
[strategies.cart.states.remission.transitions.relapse]
to = "on_is"
dist = "exponential"
rate = {lam!r}
[strategies.cart.states.on_is]
utility = {u_is!r}
cost = {{ drugs = {c_is!r} }}
death = {{ rate = {mu_is!r} }}
"""
    if start == "infusion":
        text += '[strategies.cart.chances.infusion]\nthen = "remission"\n'
        if crs:
            p, cost, loss = crs
            text += (f"[strategies.cart.chances.infusion.outcomes.crs]\nprobability = {p!r}\n"
                     f"[strategies.cart.events.crs]\ncost = {{ adverse_events = {cost!r} }}\n"
                     f"qaly_loss = {loss!r}\n")
        if trm is not None:
            text += (f"[strategies.cart.chances.infusion.outcomes.trm]\nprobability = {trm!r}\n"
                     'to = "dead"\n')
    return text + extra


def kvref_truth(*, lam: float = 0.12, mu_r: float = 0.02, mu_is: float = 0.05,
                u_r: float = 0.80, u_is: float = 0.55, c_r: float = 2500.0,
                c_is: float = 18000.0, c0: float = 300000.0, r: float = math.log(1.03)
                ) -> dict[str, float]:
    """Closed form of KV-REF prime at continuous rate ``r`` (VERIFICATION §3)."""
    a = lam + mu_r + r
    is_occ = 1.0 / (mu_is + r)
    out = {"is_qaly": u_is * is_occ, "is_cost": c_is * is_occ, "is_ly": is_occ,
           "cart_qaly": u_r / a + u_is * lam / a * is_occ,
           "cart_cost": c0 + c_r / a + c_is * lam / a * is_occ,
           "cart_ly": 1.0 / a + lam / a * is_occ}
    for m in ("qaly", "cost", "ly"):
        out[f"d_{m}"] = out[f"cart_{m}"] - out[f"is_{m}"]
    return out


class Contract:
    """What the tests share: writing scenarios, running the CLI, reading its files."""

    Z = Z
    N_STAT = N_STAT
    SEED = SEED
    TRACE_KEYS = TRACE_KEYS
    RELAPSE = RELAPSE
    kvref = staticmethod(kvref_text)
    truth = staticmethod(kvref_truth)

    def __init__(self, root: Path) -> None:
        self.root = root
        self._runs: dict[tuple, Path] = {}
        self._count = 0

    # ------------------------------------------------------------ running

    def write(self, text: str, folder: Path | None = None, name: str = "scenario.toml") -> Path:
        """Write scenario ``text`` to ``folder/name`` (a fresh folder by default)."""
        if folder is None:
            self._count += 1
            folder = self.root / f"s{self._count}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_text(text, encoding="utf-8")
        return path

    @staticmethod
    def cli(args: Sequence[object], env: Mapping[str, str] | None = None) -> Result:
        """``cartsim ARGS`` in-process; exceptions other than SystemExit propagate."""
        result = CliRunner().invoke(main, [str(a) for a in args], env=dict(env or {}))
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    def run(self, text: str, *options: object, command: str = "run") -> Path:
        """``cartsim COMMAND scenario --out DIR -q OPTIONS``; exit 0 required; cached."""
        key = (command, text, tuple(str(o) for o in options))
        if key not in self._runs:
            path = self.write(text)
            out = path.parent / "out"
            result = self.cli([command, path, "--out", out, "-q", *options])
            assert result.exit_code == 0, (command, options, result.output)
            self._runs[key] = out
        return self._runs[key]

    def run_to(self, scenario: Path, out: Path, *options: object, command: str = "run",
               env: Mapping[str, str] | None = None) -> Result:
        """``cartsim COMMAND scenario --out out -q OPTIONS`` (not cached, not checked)."""
        return self.cli([command, scenario, "--out", out, "-q", *options], env=env)

    def psa(self, text: str, *options: object) -> Path:
        return self.run(text, *options, command="psa")

    @staticmethod
    def subprocess_cmd(*args: object) -> list[str]:
        """The command line of ``cartsim ARGS`` as a separate Python process."""
        return [sys.executable, "-m", "cartsim", *map(str, args)]

    @staticmethod
    def subprocess_env() -> dict[str, str]:
        env = dict(os.environ)
        env.pop("CARTSIM_FAULT_INJECT", None)
        return env

    # ------------------------------------------------------------ reading

    @staticmethod
    def rows(folder: Path, table: str) -> list[dict[str, str]]:
        with (Path(folder) / f"{table}.csv").open(encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh))

    def summary(self, folder: Path) -> dict[str, dict[str, str]]:
        return {r["strategy"]: r for r in self.rows(folder, "summary")}

    def keyed(self, folder: Path, table: str, *keys: str) -> dict[tuple[str, ...], dict]:
        return {tuple(r[k] for k in keys): r for r in self.rows(folder, table)}

    def patients(self, folder: Path) -> dict[tuple[int, str], dict[str, str]]:
        return {(int(r["patient_id"]), r["strategy"]): r for r in self.rows(folder, "patients")}

    def trace_facts(self, folder: Path, strategies: Sequence[str] | None = None
                    ) -> list[tuple[str, ...]]:
        """The trace without any amount: who did what, where and when."""
        return [tuple(r[k] for k in TRACE_KEYS) for r in self.rows(folder, "trace")
                if strategies is None or r["strategy"] in strategies]

    @staticmethod
    def assert_finite_csvs(folder: Path) -> None:
        """No CSV cell in the folder reads nan or inf (VERIFICATION F5, B3, B11)."""
        for path in sorted(Path(folder).glob("*.csv")):
            with path.open(encoding="utf-8", newline="") as fh:
                for row in csv.reader(fh):
                    bad = [c for c in row if c.strip().lower() in BAD_TOKENS]
                    assert not bad, (path.name, row)

    # ------------------------------------------------------------ comparing

    @staticmethod
    def check(what: str, estimate: float | str, truth: float, se: float | str) -> Check:
        return Check(what, float(estimate), float(truth), float(se))

    @staticmethod
    def assert_within(checks: Sequence[Check], z: float = Z) -> None:
        """Every |estimate - truth| <= z * SE; the message lists every check."""
        bad = [c for c in checks if not c.ok(z)]
        report = "\n".join(map(str, checks))
        print(report)  # the z-scores of passing checks, shown with -rP
        assert not bad, (f"outside {z} SE:\n" + "\n".join(map(str, bad)) + "\nall:\n"
                         + report)

    @staticmethod
    def close(a: float | str, b: float | str, rel: float = 1e-9, abs_: float = 1e-9) -> bool:
        return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=abs_)


@pytest.fixture(scope="session")
def contract(tmp_path_factory: pytest.TempPathFactory) -> Contract:
    return Contract(tmp_path_factory.mktemp("contract"))
