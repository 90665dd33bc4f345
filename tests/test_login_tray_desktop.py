"""The real tray under Xvfb (a real tray manager, D-Bus, dbusmenu) with an SSO session and an `aws login`
profile side by side: both status lines, the login profile by name with its actions, and its sign-out."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from test_aws_login import cache_path, cli_style_sign_in, login_env  # noqa: F401 (a fixture)
from test_tray_desktop import STATUS_LEFT, desktop, no_traceback, sign_in, start_tray  # noqa: F401 (fixtures)

pytestmark = pytest.mark.display

LOGIN_LEFT = re.compile(r"^me — 1[45]m left, until \d\d:\d\d$")


def test_the_menu_shows_an_sso_session_and_a_login_session(desktop, start_tray, login_env, home):
    sign_in(login_env)
    cli_style_sign_in(login_env, home, datetime.now(timezone.utc) + timedelta(minutes=15))
    tray = start_tray()
    layout = tray.wait_menu(lambda m: STATUS_LEFT.match(m.children[0].label) and any(LOGIN_LEFT.match(c.label) for c in m.children)
                            and "me" in m.labels(), 30, "both sessions' status lines and the profile me")
    labels = layout.labels()
    assert labels[:2] == [layout.children[0].label, next(c.label for c in layout.children if LOGIN_LEFT.match(c.label))], layout.dump()
    assert {"Sign out (dev)", "Sign out (me)"} <= set(labels), layout.dump()
    # both renew themselves: "Sign in again" is offered only when a session is expiring, expired or failing
    assert not [lab for lab in labels if lab.startswith("Sign in again")], layout.dump()
    # the login profile among the configured profiles by name, with what it supports
    assert tray.menu().open("me").labels() == ["Copy export lines (bash)", "Copy as", "Copy as auto-refreshing", "Add to favourites"]
    # its sign-out from the menu: the cache file goes (as `aws logout`), the SSO session stays signed in
    tray.click("Sign out (me)")
    layout = tray.wait_menu(lambda m: "me — signed out" in m.labels(), 15, "me signed out")
    assert not cache_path(home).exists() and STATUS_LEFT.match(layout.children[0].label)
    assert "Sign in (me)" in layout.labels()
    no_traceback(tray)
