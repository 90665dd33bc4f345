"""The portable tests (the ones the CI's Windows job runs) under Windows CPython 3.13 in Wine."""

from __future__ import annotations

import re

import yaml

from conftest import ROOT
from lane import figure, lane, timed, windows_python  # noqa: F401 (fixtures)


def portable_command() -> list[str]:
    """The files and marker the CI's macOS/Windows job runs (.github/workflows/ci.yml), so that both run
    the same tests."""
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8"))
    command = workflow["jobs"]["portable"]["steps"][-1]["run"].split()
    return command[command.index("pytest") + 1:]


# Wine 8.0 has no bcryptprimitives.dll, which extension modules built with Rust 1.78+ load (rpds-py, under
# check-jsonschema): this one test of the workflow file runs in the Linux suite and the real Windows job.
NOT_UNDER_WINE = ("tests/test_workflow.py::test_the_workflow_is_valid_for_github",)


def test_the_portable_tests_pass_under_windows_python(windows_python):
    args = portable_command() + [f"--deselect={node}" for node in NOT_UNDER_WINE]
    assert "-m" in args and "portable" in args, args
    result = windows_python.run("-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfEs", *args, cwd=ROOT, timeout=900)
    output = result.stdout + result.stderr
    summary = re.findall(r"^=*\s*(\d+ (?:passed|failed).*?)\s*=*$", output, re.M)
    figure(f"portable tests under Windows CPython: {summary[-1] if summary else 'no summary'}")
    assert result.returncode == 0, output[-6000:]
    assert summary and " passed" in summary[-1] and "failed" not in summary[-1], output[-3000:]
