"""The real tray follows the world: a config written after it started, a sign-in and a sign-out made in a
terminal, a token file written by botocore's own code. Each is shown in the menu (read over dbusmenu, as a
panel reads it) within 5 seconds, with no restart."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from conftest import run_cli, standard_config, write_config
from desktop import wait_for
from test_tray_desktop import STATUS_LEFT, desktop, start_tray, status, token_path  # noqa: F401 - fixtures

pytestmark = pytest.mark.display

FOLLOW_WITHIN = 5.0  # SPEC §7


def shown_within(tray, predicate, what: str) -> float:
    """Seconds until the menu satisfies `predicate` (fails after FOLLOW_WITHIN)."""
    started = time.monotonic()
    tray.wait_menu(predicate, timeout=FOLLOW_WITHIN, what=what)
    return time.monotonic() - started


def test_config_sign_in_and_sign_out_made_elsewhere_are_shown(desktop, start_tray, sso_env, home):  # noqa: F811
    config = home / ".aws" / "config"
    text = standard_config(sso_env)
    config.unlink()
    tray = start_tray()
    tray.wait_menu(lambda m: "Set up AWS SSO…" in m.labels(), what="the menu with no config")
    write_config(home, text)
    shown_within(tray, lambda m: status(m) == "dev — signed out", "the new session, signed out")
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    shown_within(tray, lambda m: STATUS_LEFT.match(status(m)), "the session signed in from a terminal")
    assert run_cli("logout").returncode == 0
    shown_within(tray, lambda m: status(m) == "dev — signed out", "the session signed out from a terminal")
    assert tray.alive()


def test_a_token_written_by_botocore_is_shown(desktop, start_tray, sso_env, home):  # noqa: F811
    """`aws sso login` writes the token cache through botocore's JSONFileCache; so does this test."""
    from botocore.utils import JSONFileCache

    from tray.core.identity.config import AwsConfig
    from tray.core.identity.signin import SignInOptions, login

    tray = start_tray()
    tray.wait_menu(lambda m: status(m) == "dev — signed out", what="signed out at start")
    # a real token from the simulator, then written the way the AWS CLI writes it
    token = login(AwsConfig.load().session("dev"), SignInOptions(opener=lambda url: urllib.request.urlopen(url, timeout=30).read()))
    path = token_path(home)
    body = json.loads(path.read_text(encoding="utf-8"))
    path.unlink()
    tray.wait_menu(lambda m: status(m) == "dev — signed out", what="signed out again")
    JSONFileCache(str(path.parent))[path.stem] = body
    assert path.exists() and token.access_token == body["accessToken"]
    shown_within(tray, lambda m: STATUS_LEFT.match(status(m)), "the session whose token botocore wrote")
