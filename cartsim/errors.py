"""Exceptions raised by cartsim. The library raises; only the CLI prints."""

from __future__ import annotations

from dataclasses import dataclass


class CartsimError(Exception):
    """Base class of every error cartsim raises on purpose."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where, what was received, what was expected."""

    path: str
    message: str
    value: object = None
    hint: str | None = None
    has_value: bool = True

    def render(self) -> str:
        text = f"{self.path}: {self.message}"
        if self.has_value:
            text += f"; got {self.value!r}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


class ScenarioError(CartsimError):
    """A scenario file (or a --set override) is invalid. Carries every problem found."""

    exit_code = 2

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = list(problems)
        n = len(self.problems)
        head = f"{source}: {n} problem{'s' if n != 1 else ''}"
        body = "\n".join("  " + p.render() for p in self.problems)
        super().__init__(f"{head}\n{body}")


class UsageError(CartsimError):
    """The command line asks for something impossible (existing folder, bad flag value)."""

    exit_code = 2


class ParameterError(CartsimError):
    """A parameter distribution cannot be built from the values given."""

    exit_code = 2


class SimulationError(CartsimError):
    """The model cannot be simulated as specified (e.g. a patient who never dies)."""

    exit_code = 1
