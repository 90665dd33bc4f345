"""AWS_PROFILE is the person's choice for their own tools: it never fails sso-tray's calls to the portal."""

from __future__ import annotations

import os

from conftest import run_cli


def test_an_aws_profile_that_does_not_exist_does_not_fail_an_export(sso_env, home):
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    env = {**os.environ, "AWS_PROFILE": "no-such-profile"}
    result = run_cli("export", "dev-admin", env=env)  # nothing cached: GetRoleCredentials is called
    assert result.returncode == 0, result.stderr
    assert "AWS_ACCESS_KEY_ID" in result.stdout
