"""`sso-tray` installed without the `tray` extra (no pystray, or no Pillow): one line naming the command that
installs it, exit 4 (a local resource the command needs is missing, as for the clipboard), no traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize("missing, named", [("pystray", "pystray"), ("PIL", "Pillow")])
@pytest.mark.parametrize("argv", [[], ["run"]])
def test_the_tray_without_its_extra_names_the_install_command(home, tmp_path, missing, named, argv):
    # a package that is not there as far as Python can tell: importing it fails exactly as when uninstalled
    shadow = tmp_path / "site" / missing
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(f"raise ModuleNotFoundError(\"No module named '{missing}'\", name={missing!r})\n", encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "site"), DISPLAY=os.environ.get("DISPLAY") or ":99")
    env.pop("SSO_TRAY_DEBUG", None)
    result = subprocess.run([sys.executable, "-m", "tray", *argv], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 4, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith(f"sso-tray: the tray needs {named}, which is not installed")
    assert "pipx install 'sso-tray[tray]'" in result.stderr and "pip install 'sso-tray[tray]'" in result.stderr
