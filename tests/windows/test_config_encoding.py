"""The AWS config's encoding under Windows CPython (issue 18): a UTF-8 config is read as UTF-8 although the
ANSI code page is cp1252, a cp1252 config (a byte that is not UTF-8) is read in that code page, and a write
(`configure`) gives the file back in the encoding it was read in, every other byte kept."""

from __future__ import annotations

from conftest import ROOT
from lane import figure, lane, timed, windows_python  # noqa: F401 (fixtures)
from wine import winpath

UTF8_CONFIG = "[sso-session 開発]\nsso_start_url = https://kaihatsu.awsapps.com/start\nsso_region = ap-northeast-1\n"
CP1252_CONFIG = "# Zürich's team\n[sso-session zürich]\nsso_start_url = https://zuerich.awsapps.com/start\nsso_region = eu-central-2\n"


def status(windows_python, root, *args: str):
    env = windows_python.env(SSO_TRAY_ROOT=winpath(root), PYTHONIOENCODING="utf-8")
    return windows_python.run("-m", "tray", *args, env=env, cwd=ROOT, timeout=300)


def test_the_ansi_code_page_is_not_utf8_here(windows_python):
    """What makes the tests below mean something: Windows Python's locale encoding in the lane is cp1252."""
    result = windows_python.run("-c", "import locale; print(locale.getpreferredencoding(False))")
    assert result.stdout.strip().lower() == "cp1252", result.stdout + result.stderr


def test_a_utf8_config_is_read_as_utf8(windows_python, tmp_path):
    root = tmp_path / "root"
    (root / ".aws").mkdir(parents=True)
    (root / ".aws" / "config").write_bytes(UTF8_CONFIG.encode("utf-8"))
    result = status(windows_python, root, "status")
    assert result.returncode == 3, result.stdout + result.stderr  # signed out, and said so
    assert "開発 — signed out" in result.stdout, result.stdout + result.stderr


def test_a_cp1252_config_is_read_and_written_back_in_its_code_page(windows_python, tmp_path):
    root = tmp_path / "root"
    (root / ".aws").mkdir(parents=True)
    config = root / ".aws" / "config"
    config.write_bytes(CP1252_CONFIG.encode("cp1252"))
    result = status(windows_python, root, "status")
    assert "zürich — signed out" in result.stdout, result.stdout + result.stderr
    written = status(windows_python, root, "configure", "--start-url", "https://other.awsapps.com/start",
                     "--region", "us-east-1", "--name", "other", "--no-login")
    assert written.returncode == 0, written.stdout + written.stderr
    data = config.read_bytes()
    assert data.startswith(CP1252_CONFIG.encode("cp1252")), data[:200]  # every byte it had, still cp1252
    assert b"[sso-session other]" in data
