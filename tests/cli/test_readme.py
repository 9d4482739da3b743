"""README.md's "Using it" block runs as written, in order, on a fresh clone after the
set-up: parsed from the README itself, each line run in one scratch folder holding a copy
of scenarios/ (so default results folders must not collide), with sizes shrunk by options
(--patients, --draws, --replicates, ...) so the whole block takes seconds."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SMALL: dict[str, dict[str, str]] = {
    "run": {"--patients": "60"},
    "psa": {"--draws": "4", "--patients": "30", "--workers": "1"},
    "dsa": {"--patients": "30", "--param": "costs.car_t.product"},
    "threshold": {"--patients": "30"},
    "sweep": {"--patients": "30"},
    "compare": {"--patients": "30"},
    "validate": {"--replicates": "10"},
    "capacity": {"--replications": "1"},
}
"""Per command: options set (replacing the README's value, or added) to shrink the work."""


def code_block(heading: str) -> list[str]:
    """The command lines of the first code block under ``heading``, comments dropped."""
    text = README.read_text(encoding="utf-8")
    after = text[text.index(f"\n{heading}\n"):]
    block = after[after.index("```\n") + 4:]
    block = block[:block.index("```")]
    return [line.strip() for line in block.splitlines() if line.strip()]


def shrunk(words: list[str]) -> list[str]:
    """A command with its sizes replaced by small ones (values after the option)."""
    small = SMALL.get(words[0], {})
    out: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
            continue
        if word in small:
            skip = True
            continue
        out.append(word)
    for option, value in small.items():
        out += [option, value]
    return out


def expand(words: list[str]) -> list[str]:
    """The shell's glob expansion of scenarios/relapse_*.toml and the like."""
    return [w for word in words
            for w in (sorted(str(p) for p in Path().glob(word)) if "*" in word else [word])]


def test_set_up_is_two_commands_each_in_a_virtual_environment():
    lines = code_block("## Set-up (two commands on a fresh machine)")
    assert len(lines) == 2
    assert all(line.startswith("python3 -m venv .venv && . .venv/bin/activate && pip install")
               for line in lines)
    assert lines[0].endswith("&& cartsim run scenarios/base.toml")


def test_using_it_runs_in_order_on_a_fresh_clone(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from cartsim.cli import main

    shutil.copytree(ROOT / "scenarios", tmp_path / "scenarios")
    monkeypatch.chdir(tmp_path)
    setup = code_block("## Set-up (two commands on a fresh machine)")[0]
    lines = [setup.split("&& ")[-1], *code_block("## Using it")]      # the set-up's run first
    assert len(lines) >= 12
    runner = CliRunner()
    for line in lines:
        words = shlex.split(line, comments=True)
        assert words[0] == "cartsim", line
        args = expand(shrunk(words[1:]))
        done = runner.invoke(main, args)
        if done.exit_code != 0:
            pytest.fail(f"{line}\n  ran as: cartsim {' '.join(args)}\n  exit {done.exit_code}:"
                        f" {done.output[-1500:]}")
    written = sorted(p.name for p in (tmp_path / "results").iterdir())
    assert {"base", "sle", "seed7", "base_psa", "base_dsa", "base_threshold", "base_sweep",
            "compare_relapse"} <= set(written)
    assert (tmp_path / "results" / "seed7" / "trace.csv").is_file()
    assert (tmp_path / "results" / "base" / "report.html").is_file()
    assert (tmp_path / "results" / "base" / "results.xlsx").is_file()
    assert (tmp_path / "results" / "base_psa" / "report.html").is_file()
