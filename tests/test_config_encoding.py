"""The AWS config's encoding (SPEC §2): read as UTF-8 where it is valid UTF-8, else in the locale's code page
(as botocore reads it), and written back in the encoding it was read in, every other byte kept.

The code page is real: a cp1252 locale (what a Western Windows has) is compiled with glibc's `localedef`
into a folder of the test's own (LOCPATH), and sso-tray runs as a child under it, out of UTF-8 mode, with
only its output in UTF-8 (PYTHONIOENCODING) so that the test can read what it prints.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import need, need_program, run_cli
from tray.core.errors import UsageError
from tray.core.files import inifile

UTF8_CONFIG = (
    "# Ёлка: a name whose UTF-8 holds 0x81, a byte cp1252 has no character for\n"
    "[sso-session 開発]\n"
    "sso_start_url = https://kaihatsu.awsapps.com/start\n"
    "sso_region = ap-northeast-1\n"
    "\n"
    "[profile Ёлка]\n"
    "sso_session = 開発\n"
    "sso_account_id = 111122223333\n"
    "sso_role_name = Admin\n"
).encode("utf-8")

CP1252_CONFIG = (
    "# Geschäftskonto, von Hand geschrieben\r\n"
    "[sso-session café]\r\n"
    "sso_start_url = https://cafe.awsapps.com/start\r\n"
    "sso_region = eu-west-3\r\n"
    "\r\n"
    "[profile café-admin]\r\n"
    "sso_session = café\r\n"
    "sso_account_id = 444455556666\r\n"
    "sso_role_name = Admin\r\n"
).encode("cp1252")


@pytest.fixture(scope="session")
def cp1252_locale(tmp_path_factory) -> dict:
    """Environment variables that put a child process in a cp1252 locale, as on a Western Windows."""
    localedef = need_program("localedef")
    folder = tmp_path_factory.mktemp("locales")
    subprocess.run([localedef, "-i", "en_US", "-f", "CP1252", str(folder / "en_US.CP1252")], capture_output=True, timeout=120)
    need((folder / "en_US.CP1252").is_dir(), "glibc's locale sources are not installed (the Debian package locales)")
    env = {"LOCPATH": str(folder), "LC_ALL": "en_US.CP1252", "PYTHONUTF8": "0", "PYTHONIOENCODING": "utf-8"}
    probe = subprocess.run([sys.executable, "-c", "import locale; print(locale.getpreferredencoding(False))"],
                           env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    assert probe.stdout.strip() == "CP1252", probe.stderr
    return env


def _config(home: Path, data: bytes) -> Path:
    path = home / ".aws" / "config"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _in_locale(env: dict, *args: str):
    result = run_cli(*args, env={**os.environ, **env})
    assert "Traceback" not in result.stderr
    return result


def _botocore_sessions(env: dict) -> list[str]:
    """The sso-session names botocore's own loader reads in that locale."""
    code = "import json; from botocore.configloader import load_config; print(json.dumps(sorted(load_config(__import__('os').environ['AWS_CONFIG_FILE'])['sso_sessions'])))"
    result = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True, encoding="utf-8", timeout=60)
    assert result.returncode == 0, result.stderr[-1000:]
    return json.loads(result.stdout)


def _configure_other(env: dict):
    return _in_locale(env, "configure", "--start-url", "https://other.awsapps.com/start", "--region", "eu-west-1", "--name", "other", "--no-login")


def test_a_utf8_config_reads_as_utf8_under_a_code_page(home, monkeypatch, cp1252_locale):
    config = _config(home, UTF8_CONFIG)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    status = _in_locale(cp1252_locale, "status")
    assert status.returncode == 3, status.stderr
    assert status.stdout == "開発 — signed out\n"
    profiles = _in_locale(cp1252_locale, "profiles", "--json")
    assert [(p["name"], p["sso_session"]) for p in json.loads(profiles.stdout)["profiles"]] == [("Ёлка", "開発")]

    written = _configure_other(cp1252_locale)
    assert written.returncode == 0, written.stderr
    after = config.read_bytes()
    assert after.startswith(UTF8_CONFIG)  # every byte there was is still there
    assert after[len(UTF8_CONFIG):].decode("ascii").startswith("\n[sso-session other]\n")
    assert _in_locale(cp1252_locale, "status").stdout == "開発 — signed out\nother — signed out\n"


def test_a_code_page_config_reads_in_the_code_page_and_is_written_back_in_it(home, monkeypatch, cp1252_locale):
    config = _config(home, CP1252_CONFIG)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    assert _in_locale(cp1252_locale, "status").stdout == "café — signed out\n"
    profiles = _in_locale(cp1252_locale, "profiles", "--json")
    assert [p["name"] for p in json.loads(profiles.stdout)["profiles"]] == ["café-admin"]

    written = _configure_other(cp1252_locale)
    assert written.returncode == 0, written.stderr
    after = config.read_bytes()
    assert after.startswith(CP1252_CONFIG)
    assert after[len(CP1252_CONFIG):] == (
        b"\r\n[sso-session other]\r\nsso_start_url = https://other.awsapps.com/start\r\nsso_region = eu-west-1\r\n"
        b"sso_registration_scopes = sso:account:access\r\n"
    )
    assert _botocore_sessions(cp1252_locale) == ["café", "other"]  # the AWS CLI on that machine reads it too


def test_a_code_page_config_under_a_utf8_locale_is_one_clear_line(home, monkeypatch):
    config = _config(home, CP1252_CONFIG)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    result = run_cli("status", env={**os.environ, "PYTHONUTF8": "1"})
    assert result.returncode == 2
    assert result.stderr == f"sso-tray: {config}: the file is not UTF-8 text (byte 8); save it as UTF-8\n"
    assert config.read_bytes() == CP1252_CONFIG


def test_the_encoding_read_is_the_encoding_written(home, monkeypatch):
    monkeypatch.setattr("locale.getpreferredencoding", lambda do_setlocale=True: "cp1252")
    assert inifile.decode(UTF8_CONFIG) == (UTF8_CONFIG.decode("utf-8"), "utf-8")
    assert inifile.decode(CP1252_CONFIG) == (CP1252_CONFIG.decode("cp1252"), "cp1252")
    undefined = CP1252_CONFIG + b"# \x81\x8d\r\n"  # invalid UTF-8, and no character in cp1252 either: kept as bytes
    path = _config(home, undefined)
    inifile.rewrite(path, lambda text: text + "[profile more]\r\nregion = r\r\n")
    assert path.read_bytes() == undefined + b"[profile more]\r\nregion = r\r\n"
    # what the code page cannot hold is refused in one line, and the file stays as it was
    with pytest.raises(UsageError, match=f"cannot write {path}: it is cp1252 text"):
        inifile.rewrite(path, lambda text: text + "[profile 開発]\r\n")
    assert path.read_bytes() == undefined + b"[profile more]\r\nregion = r\r\n"
