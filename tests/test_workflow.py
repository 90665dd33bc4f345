"""The CI workflow cannot run here: it is checked against GitHub's workflow schema (check-jsonschema's
vendored copy, no network) and against the tests it names."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT

pytestmark = pytest.mark.portable

WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def test_the_workflow_is_valid_for_github():
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_tests_on_linux_macos_and_windows_and_builds_each_bundle():
    jobs = workflow()["jobs"]
    assert jobs["linux"]["steps"][-1]["run"] == "scripts/test"  # the same command as here
    assert jobs["linux"]["strategy"]["matrix"]["python"] == ["3.10", "3.11", "3.12", "3.13"]
    assert set(jobs["portable"]["strategy"]["matrix"]["os"]) == {"macos-latest", "windows-latest"}
    assert set(jobs["bundle"]["strategy"]["matrix"]["os"]) == {"ubuntu-latest", "macos-latest", "windows-latest"}
    bundle_steps = jobs["bundle"]["steps"]
    assert any(step.get("run") == "python packaging/build.py" for step in bundle_steps)
    assert any(step.get("uses", "").startswith("actions/upload-artifact@") and step["with"]["path"] == "dist/" for step in bundle_steps)


def test_the_portable_job_runs_files_that_hold_portable_tests():
    """Each file the macOS/Windows job names exists and has tests marked portable (a renamed file or a
    lost mark would make that job test nothing)."""
    command = workflow()["jobs"]["portable"]["steps"][-1]["run"]
    assert "-m portable" in command
    files = re.findall(r"tests/\S+\.py", command)
    assert files
    for name in files:
        text = (ROOT / name).read_text(encoding="utf-8")
        assert "pytest.mark.portable" in text, name
