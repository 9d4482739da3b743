"""Upper limits on run sizes and the engine names, in one light module: the command
line's options check them without importing the modules that enforce them (numpy and
the engines)."""

from __future__ import annotations

MAX_PATIENTS = 10_000_000
"""Patients per strategy in a run."""
MAX_DRAWS = 1_000_000
"""PSA draws."""
MAX_REPLICATIONS = 10_000
"""Independent programmes of a capacity run."""
MAX_REPLICATES = 100_000
"""Simulated case series of a validation."""
ENGINES = ("compiled", "simpy")
"""Engines that interpret a pathway: the compiled kernel (the default: it values as it
simulates) and simpy (the reference implementation)."""
