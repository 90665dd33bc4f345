"""Shared fixtures: a throw-away HOME for every test, the Identity Center simulator, a virtual display."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(condition: bool, why: str) -> None:
    """Skip a test whose tools are missing on a developer machine; in CI the same gap is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI is missing a test prerequisite: {why}")
    pytest.skip(why)


def need_program(name: str) -> str:
    path = shutil.which(name)
    need(path is not None, f"{name} is not installed (scripts/bootstrap installs it)")
    return path


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch) -> Path:
    """Every test runs with its own HOME, so nothing can touch a real ~/.aws or ~/.config."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in list(os.environ):
        if var.startswith("AWS_") or var.startswith("XDG_"):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(home / ".run"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("BROWSER", raising=False)
    return home


@pytest.fixture
def xvfb(monkeypatch):
    """A private X server; DISPLAY points at it for the test and its children."""
    need_program("Xvfb")
    for n in range(90, 140):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            break
    display = f":{n}"
    proc = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{n}").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("Xvfb did not start")
        time.sleep(0.05)
    monkeypatch.setenv("DISPLAY", display)
    yield display
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()


def run_cli(*args: str, env: dict | None = None, input: str | None = None, timeout: float = 60, cwd=None):
    """Run `sso-tray ARGS` as a real process (python -m tray), with the test's environment."""
    return subprocess.run(
        [sys.executable, "-m", "tray", *args],
        env=env if env is not None else os.environ.copy(),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )
