"""The CI workflow cannot run here: it is checked against GitHub's workflow schema (check-jsonschema's
vendored copy, no network) and against the tests it names."""

from __future__ import annotations

import os
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
    (upload,) = [step for step in bundle_steps if step.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload["with"]["path"] == "sso-tray-${{ runner.os }}.*"  # the packed bundle, never dist/ itself


@pytest.mark.skipif(sys.platform == "win32", reason="the tar step is the Linux and macOS runners' (Windows: zip)")
def test_the_bundle_travels_packed_with_its_modes_and_links(tmp_path):
    """The pack step of the bundle job, run here on a dist/ like the Linux bundle's and the .app's: what
    comes out of the archive still runs and still links."""
    steps = workflow()["jobs"]["bundle"]["steps"]
    (pack,) = [step["run"] for step in steps if step.get("if") == "runner.os != 'Windows'"]
    dist = tmp_path / "dist" / "sso-tray.app" / "Contents"
    (dist / "MacOS").mkdir(parents=True)
    program = dist / "MacOS" / "sso-tray"
    program.write_text("#!/bin/sh\necho ran\n", encoding="utf-8")
    program.chmod(0o755)
    (dist / "Frameworks").mkdir()
    (dist / "Frameworks" / "Python").symlink_to("../MacOS/sso-tray")
    subprocess.run(["bash", "-c", pack.replace("${{ runner.os }}", "macOS")], cwd=tmp_path, check=True, timeout=60)
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run(["tar", "-xzf", str(tmp_path / "sso-tray-macOS.tar.gz"), "-C", str(out)], check=True, timeout=60)
    unpacked = out / "sso-tray.app" / "Contents"
    assert subprocess.run([str(unpacked / "MacOS" / "sso-tray")], capture_output=True, text=True).stdout == "ran\n"
    assert os.readlink(unpacked / "Frameworks" / "Python") == "../MacOS/sso-tray"


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
