"""Where sso-tray reads and writes: the AWS CLI v2's files, and its own per-user folders.

Every path comes from here. `use_root(folder)` (the demo's throw-away home) moves all of them under one
folder, on every OS: HOME is ignored by Windows Python (`~` is %USERPROFILE%) and XDG_* by platformdirs
on Windows and macOS, so setting those would leave the demo in the person's real ~/.aws and sharing the
real tray's lock. The root travels in `SSO_TRAY_ROOT`, so that the processes sso-tray starts, and a
command typed in another terminal, see the same files.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "sso-tray"
ROOT_ENV = "SSO_TRAY_ROOT"


def root() -> Path | None:
    """The folder that stands in for the person's home, when one is set."""
    value = os.environ.get(ROOT_ENV)
    return Path(value) if value else None


def use_root(folder: Path) -> None:
    """Keep every file sso-tray (and botocore in this process and its children) uses under `folder`.
    botocore is told through AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE, which it honours on
    every OS."""
    os.environ[ROOT_ENV] = str(folder)
    os.environ["AWS_CONFIG_FILE"] = str(aws_config_file())
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(credentials_file())


def _home() -> Path:
    return root() or Path(os.path.expanduser("~"))


def _aws_file(variable: str, name: str) -> Path:
    """An AWS CLI file: the environment variable names it (as botocore reads it), unless a root is set."""
    if root() is None and os.environ.get(variable):
        return Path(os.path.expanduser(os.environ[variable]))
    return _home() / ".aws" / name


def aws_config_file() -> Path:
    return _aws_file("AWS_CONFIG_FILE", "config")


def credentials_file() -> Path:
    return _aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials")


def sso_cache_dir() -> Path:
    """The AWS CLI v2's SSO token cache."""
    return _home() / ".aws" / "sso" / "cache"


def login_cache_dir() -> Path:
    """The AWS CLI v2's `aws login` cache: `$AWS_LOGIN_CACHE_DIRECTORY` (as botocore expands it), else ~/.aws/login/cache."""
    if root() is None and os.environ.get("AWS_LOGIN_CACHE_DIRECTORY"):
        return Path(os.path.expanduser(os.path.expandvars(os.environ["AWS_LOGIN_CACHE_DIRECTORY"])))
    return _home() / ".aws" / "login" / "cache"


def cli_cache_dir() -> Path:
    """The AWS CLI v2's role-credential cache."""
    return _home() / ".aws" / "cli" / "cache"


def app_config_dir() -> Path:
    """Settings that the person chose (favourites, pinned profiles, formats, thresholds)."""
    if root() is not None:
        return root() / ".config" / APP_NAME
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP_NAME, appauthor=False))


def app_cache_dir() -> Path:
    """Things sso-tray can rebuild: discovered accounts and roles."""
    if root() is not None:
        return root() / ".cache" / APP_NAME
    from platformdirs import user_cache_dir

    return Path(user_cache_dir(APP_NAME, appauthor=False))


def app_log_dir() -> Path:
    """The tray's log files: its only output under pythonw.exe or the windowed bundle (no stderr there)."""
    if root() is not None:
        return root() / ".cache" / APP_NAME / "log"
    from platformdirs import user_log_dir

    return Path(user_log_dir(APP_NAME, appauthor=False))


def app_log_file() -> Path:
    return app_log_dir() / f"{APP_NAME}.log"


def app_locks_dir() -> Path:
    """Lock files: per user, never shared with other users, and never in ~/.aws."""
    return app_cache_dir() / "locks"
