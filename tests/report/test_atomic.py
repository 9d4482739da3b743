"""Tests for cartsim.report.atomic (atomic writes, run folders, the lock) and the
manifests of cartsim.report.folder."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from cartsim.errors import CartsimError, UsageError
from cartsim.report import atomic as files_module
from cartsim.report.atomic import (
    OutputError,
    atomic_write_text,
    run_lock,
    write_run_folder,
)
from cartsim.report.folder import build_manifest, manifest_to_json, sha256_text


def _tree(folder: Path) -> dict[str, str]:
    """Every file below `folder` as relative posix name -> content."""
    return {
        p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture
def old_results(tmp_path: Path) -> Path:
    target = tmp_path / "results"
    (target / "trace").mkdir(parents=True)
    (target / "summary.csv").write_text("old summary\n", encoding="utf-8")
    (target / "stale.txt").write_text("only in the old run\n", encoding="utf-8")
    (target / "trace" / "patients.csv").write_text("old trace\n", encoding="utf-8")
    return target


NEW = {
    "summary.csv": "a,b\n1,2\n",
    "trace/patients.csv": "id\n1\n",
    "report.md": "# R\n",
}


def _writable_despite_chmod(folder: Path) -> bool:
    probe = folder / "probe"
    try:
        probe.write_text("x", encoding="utf-8")
    except PermissionError:
        return False
    probe.unlink()
    return True


# --- atomic_write_text -----------------------------------------------------


def test_sha256_text_is_hash_of_utf8_bytes():
    assert sha256_text("é\n") == hashlib.sha256("é\n".encode()).hexdigest()


def test_atomic_write_creates_and_replaces_without_leftovers(tmp_path):
    path = tmp_path / "out.csv"
    atomic_write_text(path, "first\n")
    atomic_write_text(path, "second\r\nline é\n")
    assert path.read_bytes() == "second\r\nline é\n".encode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


@pytest.mark.parametrize("fail", ["replace", "fsync"])
def test_atomic_write_failure_keeps_old_file(tmp_path, monkeypatch, fail):
    path = tmp_path / "out.csv"
    path.write_text("old\n", encoding="utf-8")

    def boom(*args, **kwargs):
        raise OSError(errno.EIO, "simulated failure")

    monkeypatch.setattr(os, fail, boom)
    with pytest.raises(OSError, match="simulated failure"):
        atomic_write_text(path, "new content that must not appear\n")
    monkeypatch.undo()
    assert path.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


# --- write_run_folder ------------------------------------------------------


def test_write_new_folder_with_subfolders_and_missing_parent(tmp_path):
    target = tmp_path / "deep" / "er" / "run1"
    write_run_folder(target, NEW, overwrite=False)
    assert _tree(target) == NEW
    assert _hidden(target.parent) == []


def test_refuses_existing_folder_and_writes_nothing(old_results):
    before = _tree(old_results)
    with pytest.raises(UsageError) as info:
        write_run_folder(old_results, NEW, overwrite=False)
    assert str(info.value) == (
        f"results folder {old_results} exists; use --overwrite to replace it "
        "or --out to choose another"
    )
    assert info.value.exit_code == 2
    assert _tree(old_results) == before
    assert _hidden(old_results.parent) == []


def test_overwrite_replaces_whole_folder(old_results):
    write_run_folder(old_results, NEW, overwrite=True)
    assert _tree(old_results) == NEW  # stale.txt from the old run is gone
    assert _hidden(old_results.parent) == []


def test_refuses_a_file_even_with_overwrite(tmp_path):
    target = tmp_path / "results"
    target.write_text("not a folder", encoding="utf-8")
    with pytest.raises(UsageError, match="not a folder"):
        write_run_folder(target, NEW, overwrite=True)
    assert target.read_text(encoding="utf-8") == "not a folder"


@pytest.mark.parametrize("name", ["trace/patients.csv", "summary.csv", "report.md"])
def test_injected_fault_leaves_old_folder_intact(old_results, monkeypatch, name):
    before = _tree(old_results)
    monkeypatch.setenv("CARTSIM_FAULT_INJECT", f"write:{name}")
    with pytest.raises(OutputError, match="injected fault") as info:
        write_run_folder(old_results, NEW, overwrite=True)
    assert isinstance(info.value, CartsimError) and info.value.exit_code == 1
    assert _tree(old_results) == before
    assert _hidden(old_results.parent) == []


def test_injected_fault_without_previous_results_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("CARTSIM_FAULT_INJECT", "write:report.md")
    with pytest.raises(OutputError):
        write_run_folder(tmp_path / "results", NEW, overwrite=False)
    assert list(tmp_path.iterdir()) == []


def test_disk_full_is_output_error_and_old_results_kept(old_results, monkeypatch):
    before = _tree(old_results)

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OutputError) as info:
        write_run_folder(old_results, NEW, overwrite=True)
    monkeypatch.undo()
    assert str(old_results) in str(info.value)
    assert os.strerror(errno.ENOSPC) in str(info.value)
    assert _tree(old_results) == before
    assert _hidden(old_results.parent) == []


def test_failed_swap_restores_the_moved_old_folder(old_results, monkeypatch):
    before = _tree(old_results)
    real_replace = os.replace

    def replace(src, dst):
        # Fail only the final staging -> target rename, after the old folder moved.
        if Path(src).name.startswith(f".{old_results.name}.tmp-"):
            raise OSError(errno.EXDEV, "simulated rename failure")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OutputError, match="previous results unchanged"):
        write_run_folder(old_results, NEW, overwrite=True)
    monkeypatch.undo()
    assert _tree(old_results) == before
    assert _hidden(old_results.parent) == []


def test_read_only_parent_is_output_error(tmp_path):
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o500)
    try:
        if _writable_despite_chmod(parent):
            pytest.skip("chmod does not restrict this user (running as root?)")
        with pytest.raises(OutputError, match=re.escape(str(parent / "results"))):
            write_run_folder(parent / "results", NEW, overwrite=False)
        with pytest.raises(OutputError, match="lock"), run_lock(parent / "results"):
            pass
    finally:
        parent.chmod(0o700)
    assert list(parent.iterdir()) == []


@pytest.mark.parametrize("name", ["", "/abs.csv", "../escape.csv", "a/../../b.csv"])
def test_bad_file_names_rejected_before_writing(tmp_path, name):
    with pytest.raises(ValueError, match="relative"):
        write_run_folder(tmp_path / "results", {name: "x"}, overwrite=False)
    assert list(tmp_path.iterdir()) == []


# --- run_lock --------------------------------------------------------------


def test_lock_excludes_second_run_and_is_removed(tmp_path):
    target = tmp_path / "results"
    with run_lock(target) as lock:
        assert lock == tmp_path / ".results.lock"
        assert lock.read_text(encoding="ascii").strip() == str(os.getpid())
        with (
            pytest.raises(UsageError, match="another cartsim run is writing"),
            run_lock(target),
        ):
            pass
        assert lock.exists()  # the failed attempt must not release our lock
    assert not lock.exists()


def test_lock_removed_after_exception(tmp_path):
    target = tmp_path / "results"
    with pytest.raises(RuntimeError, match="boom"), run_lock(target):
        raise RuntimeError("boom")
    assert not (tmp_path / ".results.lock").exists()
    with run_lock(target):  # and can be taken again
        pass


def test_stale_lock_of_finished_process_is_taken_over(tmp_path):
    with subprocess.Popen([sys.executable, "-c", "pass"]) as proc:
        dead_pid = proc.pid
    lock = tmp_path / ".results.lock"
    lock.write_text(f"{dead_pid}\n", encoding="ascii")
    with run_lock(tmp_path / "results"):
        assert lock.read_text(encoding="ascii").strip() == str(os.getpid())
    assert not lock.exists()


def test_lock_of_live_process_is_respected(tmp_path):
    with subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)"]
    ) as proc:
        try:
            lock = tmp_path / ".results.lock"
            lock.write_text(f"{proc.pid}\n", encoding="ascii")
            with (
                pytest.raises(UsageError, match=str(proc.pid)),
                run_lock(tmp_path / "results"),
            ):
                pass
            assert lock.read_text(encoding="ascii").strip() == str(proc.pid)
        finally:
            proc.kill()


def test_unreadable_lock_is_eventually_taken_over(tmp_path, monkeypatch):
    monkeypatch.setattr(files_module.time, "sleep", lambda s: None)
    (tmp_path / ".results.lock").write_text("garbage", encoding="ascii")
    with run_lock(tmp_path / "results") as lock:
        assert lock.read_text(encoding="ascii").strip() == str(os.getpid())


# --- manifest --------------------------------------------------------------


def _manifest(**overrides):
    kwargs = {
        "command": "cartsim run scenarios/base.toml --seed 7",
        "scenario_name": "base",
        "scenario_hash": "ab" * 32,
        "seed": np.int64(7),
        "sizes": {"patients": np.int64(1000), "psa_draws": 0},
        "engine": "compiled",
        "settings": {"horizon_years": 40.0, "discount": np.float64(0.03), "t": (1, 2)},
        "files": NEW,
        "extra": {"note": "test"},
    }
    kwargs.update(overrides)
    return build_manifest(**kwargs)


def test_manifest_has_all_keys_and_file_hashes():
    manifest = json.loads(manifest_to_json(_manifest()))
    expected = {
        "cartsim_version", "git_commit", "python", "numpy", "scipy", "simpy",
        "click", "numba", "platform", "command", "scenario_name", "scenario_hash", "seed",
        "sizes", "engine", "settings", "files", "created", "note",
    }  # fmt: skip
    assert set(manifest) == expected
    assert manifest["files"] == {
        name: hashlib.sha256(text.encode("utf-8")).hexdigest()
        for name, text in NEW.items()
    }
    assert manifest["seed"] == 7
    assert manifest["sizes"] == {"patients": 1000, "psa_draws": 0}
    assert manifest["settings"]["t"] == [1, 2]
    assert manifest["numpy"] == np.__version__
    assert manifest["git_commit"] is None or re.fullmatch(
        "[0-9a-f]{40}", manifest["git_commit"]
    )
    assert datetime.fromisoformat(manifest["created"]).utcoffset().total_seconds() == 0


def test_manifest_reproducible_except_created():
    first, second = _manifest(), _manifest()
    first.pop("created")
    second.pop("created")
    assert manifest_to_json(first) == manifest_to_json(second)


def test_manifest_json_format():
    text = manifest_to_json(_manifest())
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert text.splitlines()[1].startswith('  "')
    keys = list(json.loads(text))
    assert keys == sorted(keys)


def test_manifest_refuses_non_finite_and_clashing_extra():
    with pytest.raises(ValueError, match=r"settings\.bad"):
        _manifest(settings={"bad": float("nan")})
    with pytest.raises(ValueError, match="clashes"):
        _manifest(extra={"seed": 1})
    with pytest.raises(ValueError):
        manifest_to_json({"x": float("inf")})
