"""The `cartsim` command line: one verb per study, tables in a results folder.

One module per group of commands (``inputs``: check, params; ``run``; ``psa``;
``dsa``: dsa, sweep; ``threshold``; ``compare``; ``validate``; ``capacity``;
``report``), each a thin click layer over one study of :mod:`cartsim.study`;
``execute`` runs a study and writes its folder the same way for all. A new study
is one module in ``cartsim/study`` and one here. This package is the only code
that prints. Exit codes: 0 ok; 1 the run failed; 2 bad input or usage (nothing
written); 130 interrupted.
"""

from __future__ import annotations

import click

# The modules, not their commands, so that cartsim.cli.run is the module (a command
# imported under its module's name would hide it).
from cartsim.cli import (
    budget,
    capacity,
    compare,
    dsa,
    inputs,
    psa,
    report,
    run,
    threshold,
    validate,
)

__all__ = ["main", "run_main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cartsim")
def main() -> None:
    """cartsim: simulate one-time CD19 CAR-T vs lifelong immunosuppression.

    Each analysis writes its tables to a results folder and prints a short summary
    of the key results and where they went; progress bars go to stderr, and
    --quiet prints nothing but errors (for scripts). `cartsim COMMAND --help`
    shows each command's options and more examples.

    \b
    Examples:
      cartsim check scenarios/base.toml
      cartsim params scenarios/base.toml --format csv > inputs.csv
      cartsim run scenarios/base.toml
      cartsim run scenarios/sle.toml --set car_t.relapse.rate=0.10 --patients 20000
      cartsim psa scenarios/base.toml --draws 1000 --workers 2
      cartsim dsa scenarios/base.toml
      cartsim sweep scenarios/base.toml --grid car_t.relapse.rate=0,0.05,0.1
      cartsim threshold scenarios/base.toml --param costs.car_t.product --wtp 100000,150000
      cartsim compare scenarios/relapse_*.toml --patients 5000
      cartsim capacity scenarios/capacity.toml
      cartsim budget scenarios/base.toml
      cartsim validate scenarios/case_series.toml
      cartsim report results/base
      cartsim run scenarios/base.toml --quiet && cartsim report results/base --quiet
    """


for command in (inputs.check, inputs.params, run.run, psa.psa, dsa.dsa, dsa.sweep,
                threshold.threshold_command, report.report, compare.compare,
                capacity.capacity_command, validate.validate, budget.budget_command):
    main.add_command(command)


def run_main() -> None:
    main(prog_name="cartsim")
