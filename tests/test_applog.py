"""The tray's log file: where its warnings go when there is no stderr (pythonw.exe, the windowed bundle)."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT
from tray.core.errors import AwsError
from tray.core.files import applog, paths
from tray.ui.app import TrayActions

WITHOUT_STDERR = """
import logging, sys
sys.stderr = None  # as under pythonw.exe
from tray.core.files import applog
path = applog.start()
logging.getLogger("tray.ui.app").warning("the finder page could not be started: no port")
logging.getLogger("tray.core.engine").info("renewed dev")
print(path)
"""


def test_without_stderr_the_tray_logs_to_its_file(tmp_path):
    env = {**os.environ, paths.ROOT_ENV: str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", WITHOUT_STDERR], env=env, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path / ".cache" / "sso-tray" / "log" / "sso-tray.log")
    text = (tmp_path / ".cache" / "sso-tray" / "log" / "sso-tray.log").read_text(encoding="utf-8")
    assert "WARNING tray.ui.app: the finder page could not be started: no port" in text
    assert "INFO tray.core.engine: renewed dev" in text


@pytest.fixture
def tray_logger():
    logger = logging.getLogger("tray")
    saved = list(logger.handlers), logger.level
    yield logger
    for handler in logger.handlers:
        if handler not in saved[0]:
            handler.close()
    logger.handlers[:], logger.level = saved


def test_the_log_rotates_and_keeps_a_bounded_size(tmp_path, monkeypatch, tray_logger):
    monkeypatch.setenv(paths.ROOT_ENV, str(tmp_path))
    path = applog.start()
    for n in range(4 * applog.MAX_BYTES // 100):
        logging.getLogger("tray.core.engine").info("line %05d %s", n, "x" * 80)
    files = sorted(path.parent.iterdir())
    assert [f.name for f in files] == ["sso-tray.log", "sso-tray.log.1", "sso-tray.log.2"]
    assert all(f.stat().st_size <= applog.MAX_BYTES for f in files)


def test_an_unwritable_log_folder_leaves_stderr_alone(tmp_path, monkeypatch, tray_logger, capsys):
    (tmp_path / ".cache").write_text("a file where the folder would be", encoding="utf-8")
    monkeypatch.setenv(paths.ROOT_ENV, str(tmp_path))
    assert applog.start() is None
    assert "no log file" in capsys.readouterr().err


def test_see_the_log_names_the_file():
    class Engine:
        def _submit(self, fn):
            return fn()

    with pytest.raises(AwsError, match=re.escape(f"see the log: {paths.app_log_file()}")):
        TrayActions(Engine(), quit=lambda: None).open_finder()
