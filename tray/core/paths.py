"""Where sso-tray reads and writes: the AWS CLI v2's files, and its own per-user folders."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "sso-tray"


def aws_config_file() -> Path:
    return Path(os.path.expanduser(os.environ.get("AWS_CONFIG_FILE") or "~/.aws/config"))


def credentials_file() -> Path:
    return Path(os.path.expanduser(os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials"))


def sso_cache_dir() -> Path:
    """The AWS CLI v2's SSO token cache."""
    return Path(os.path.expanduser("~/.aws/sso/cache"))


def cli_cache_dir() -> Path:
    """The AWS CLI v2's role-credential cache."""
    return Path(os.path.expanduser("~/.aws/cli/cache"))


def app_config_dir() -> Path:
    """Settings that the person chose (favourites, pinned profiles, formats, thresholds)."""
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP_NAME, appauthor=False))


def app_cache_dir() -> Path:
    """Things sso-tray can rebuild: discovered accounts and roles."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir(APP_NAME, appauthor=False))


def app_locks_dir() -> Path:
    """Lock files: per user, never shared with other users, and never in ~/.aws."""
    return app_cache_dir() / "locks"
