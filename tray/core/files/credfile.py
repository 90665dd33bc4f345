"""Writing profiles into the shared credentials file (`~/.aws/credentials`) without disturbing it (SPEC §6).

The file is someone else's: sso-tray changes only the section it writes, with `inifile`'s rules (every
other byte kept; the section edited in place or appended; atomic, locked, symlink followed). It holds secrets:
a file others could read is narrowed to its owner by every write (0644 becomes 0600).

Each written section carries the four credential keys and, when known, `region`. Besides the keys in
`values`, the section's legacy `aws_security_token` is always replaced: botocore reads it *before*
`aws_session_token`, so a stale one would shadow the new token. Keys sso-tray does not own (so
`output = json` or a user's own `region`) survive. A file that cannot be written raises `AwsError`
naming the file and the reason; the file is then untouched.
"""

from __future__ import annotations

import configparser
from pathlib import Path

from tray.core.files import inifile
from tray.core.credentials import RoleCredentials, format_time
from tray.core.errors import UsageError

CREDENTIAL_KEYS: tuple[str, ...] = (
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_credential_expiration",
)
# Keys replaced in a written section even when `values` does not carry them.
_ALWAYS_OWNED = frozenset(CREDENTIAL_KEYS) | {"aws_security_token"}


def credential_values(creds: RoleCredentials, region: str | None = None) -> dict[str, str]:
    """The keys sso-tray writes for a role: the credentials, their expiry (ISO 8601 `…Z`) and the region if known."""
    values = {
        "aws_access_key_id": creds.access_key_id,
        "aws_secret_access_key": creds.secret_access_key,
        "aws_session_token": creds.session_token,
        "aws_credential_expiration": format_time(creds.expiration),
    }
    if region:
        values["region"] = region
    return values


def _check_name(name: str) -> None:
    if (
        not name
        or name != name.strip()
        or any(c in name for c in "\r\n")
        or name == configparser.DEFAULTSECT
        or inifile.SECTCRE.match(f"[{name}]").group("header") != name
    ):
        raise UsageError(f"{name!r} cannot be a profile name in the credentials file")


def write_profile(path: Path, name: str, values: dict[str, str]) -> None:
    """Create or replace the section `[name]` of the credentials file at `path` with `values` (see module doc)."""
    _check_name(name)
    inifile.check_values(values, "the credentials file")
    refuse_hiding_login(name)
    inifile.rewrite(path, lambda text: inifile.edit(text, {name: values}, _ALWAYS_OWNED), private=True)


def refuse_hiding_login(name: str) -> None:
    """botocore takes a profile's keys from the credentials file before its `login_session` (the chain is web
    identity, SSO, the credentials file, login, process): such a section would silently hide an `aws login`
    profile of the same name, and keep hiding it after its keys expire. Writes and keep-fresh refuse it."""
    from tray.core.files.configwrite import read_config
    from tray.core.files.paths import aws_config_file

    if "login_session" in read_config().get(f"profile {name}", {}):
        raise UsageError(
            f"[{name}] in the credentials file would hide the `aws login` profile {name} of {aws_config_file()} "
            "(botocore reads the credentials file first): write it under another name with --as NAME"
        )


def remove_profile(path: Path, name: str) -> bool:
    """Remove the section `[name]`; True when there was one."""
    _check_name(name)
    return inifile.rewrite(path, lambda text: inifile.edit(text, {name: None}), private=True)


def read_profile(path: Path, name: str) -> dict[str, str] | None:
    """The keys (lowercased) of section `[name]` as botocore reads them, or None when the file or section is missing."""
    return inifile.read_sections(inifile.read_text(Path(path))).get(name)
