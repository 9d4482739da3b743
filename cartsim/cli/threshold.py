"""`cartsim threshold`: the threshold study (:mod:`cartsim.study.threshold`) from the
command line, at the point values and optionally across PSA draws."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cartsim.cli.execute import Bar, execute, guarded
from cartsim.cli.options import (
    analysis_options,
    load_checked,
    scenario_argument,
    target_folder,
)
from cartsim.errors import UsageError
from cartsim.limits import MAX_DRAWS

if TYPE_CHECKING:
    from cartsim.study.threshold import ThresholdResult


@click.command("threshold")
@scenario_argument
@click.option("--param", "name", required=True, metavar="NAME",
              help="The parameter to solve for, e.g. costs.car_t.product.")
@click.option("--wtp", "wtp_text", default=None, metavar="W1,W2,...",
              help="Willingness-to-pay values (default: run.wtp).")
@click.option("--lower", type=float, default=None, help="Lower end of the search bracket.")
@click.option("--upper", type=float, default=None, help="Upper end of the search bracket.")
@click.option("--psa-draws", type=click.IntRange(1, MAX_DRAWS), default=None, metavar="N",
              help="Also find the threshold in each of PSA draws 1..N (other parameters "
                   "and [[structural]] options drawn as by `cartsim psa`) and summarise its "
                   "distribution.")
@click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Processes to spread --psa-draws over; results are identical for any "
                   "number.")
@analysis_options
@guarded
def threshold_command(scenario: Path, name: str, wtp_text: str | None, lower: float | None,
                      upper: float | None, psa_draws: int | None, workers: int,
                      patients: int | None, seed: int | None,
                      overrides: tuple[str, ...], out: Path | None, overwrite: bool,
                      engine: str, quiet: bool, debug: bool) -> None:
    """The parameter value at which INMB = 0 at each WTP (value-based price, break-even
    relapse rate, tolerable malignancy risk), found on common random numbers.

    \b
    Examples:
      cartsim threshold scenarios/base.toml --param costs.car_t.product --wtp 100000,150000
      cartsim threshold scenarios/base.toml --param costs.car_t.product --psa-draws 200 \\
          --patients 1000 --workers 2
    """
    from cartsim.report.terminal import table_summary
    from cartsim.study.prepare import prepare
    from cartsim.study.threshold import threshold, threshold_draws, with_draws

    s = load_checked(scenario, overrides)
    prepare(s)
    wtp = parse_wtp(wtp_text) if wtp_text else s.run.wtp
    target = target_folder(out, f"{s.run.output}_threshold")

    def study(bar: Bar) -> ThresholdResult:
        with bar(None, f"Searching for the threshold of {name} (model runs)") as progress:
            single = threshold(s, name, wtp=wtp, lower=lower, upper=upper, patients=patients,
                               seed=seed, engine=engine, progress=progress.update)
        if psa_draws is None:
            return single
        with bar(psa_draws, f"Threshold in {psa_draws} PSA draws") as progress:
            spread = threshold_draws(s, name, wtp=wtp, draws=psa_draws, lower=lower,
                                     upper=upper, patients=patients, seed=seed,
                                     engine=engine, workers=workers, progress=progress.update)
        return with_draws(s, single, spread)

    def summary(result: ThresholdResult) -> str:
        text = table_summary(result.table("threshold"))
        if result.draws is not None:
            text += "\n\n" + table_summary(result.table("threshold_distribution"))
        return text

    execute(study, target, overwrite=overwrite, quiet=quiet, summary=summary)


def parse_wtp(text: str) -> tuple[float, ...]:
    """``--wtp`` values: numbers separated by commas, finite and >= 0.

    >>> parse_wtp("100000,150000")
    (100000.0, 150000.0)
    """
    try:
        values = tuple(float(x) for x in text.split(","))
    except ValueError as err:
        msg = f"--wtp must be numbers separated by commas, e.g. 100000,150000; got {text!r}"
        raise UsageError(msg) from err
    if not values or any(not math.isfinite(v) or v < 0 for v in values):
        msg = f"--wtp values must be finite and >= 0; got {text!r}"
        raise UsageError(msg)
    return values
