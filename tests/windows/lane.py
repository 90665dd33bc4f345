"""The Windows lane's fixtures (test files import them): the lane set up once per run (Wine, the
embeddable CPython, the Windows wheels), a Windows Python with a WINEPREFIX of its own per test, and the
figures the lane measured, printed at the end of the run (set-up, run and menu times, native menus, idle
CPU)."""

from __future__ import annotations

import time

import pytest

from conftest import ROOT, need
from wine import LaneError, Setup, WinePython, set_up

FIGURES: list[str] = []
SUMMARY = "windows-lane-figures"


def figure(line: str) -> None:
    """A measured figure, printed in the run's summary."""
    FIGURES.append(line)


class _Summary:
    def pytest_terminal_summary(self, terminalreporter):
        terminalreporter.section("Windows lane figures")
        for line in FIGURES:
            terminalreporter.write_line(line)


_SET_UP: list[Setup] = []  # each test module imports the fixture, so pytest would call it once per module


@pytest.fixture(scope="session")
def lane(request) -> Setup:
    plugins = request.config.pluginmanager
    if not plugins.has_plugin(SUMMARY):
        plugins.register(_Summary(), SUMMARY)
    if not _SET_UP:
        try:
            _SET_UP.append(set_up())
        except LaneError as e:
            need(False, f"the Windows lane cannot be set up: {e}")
        figure(f"set-up (Wine, CPython 3.13 embeddable, Windows wheels): {_SET_UP[0].seconds:.1f} s")
    return _SET_UP[0]


@pytest.fixture
def windows_python(lane, tmp_path, timed):
    """The lane's Python in a prefix of its own, with the checkout on its path; every Wine process of
    that prefix ended at teardown."""
    python = WinePython(tmp_path / "windows", lane, paths=[ROOT])
    figure(f"new WINEPREFIX: {python.boot():.1f} s")
    yield python
    python.stop()


@pytest.fixture
def timed(request):
    """The test's own run time, as a figure."""
    start = time.monotonic()
    yield
    figure(f"{request.node.name}: {time.monotonic() - start:.1f} s")
