"""The profiles a person can ask for: configured SSO profiles merged with discovered account/roles.

A PROFILE argument is a configured profile name, or `ACCOUNT_ID/ROLE_NAME`, or `ACCOUNT_NAME/ROLE_NAME`
for any role the signed-in session can assume. Where a configured profile and a discovered role are
the same account and role, the configured name wins.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable

from tray.core.identity.config import AwsConfig
from tray.core.errors import ConfigError, UsageError


# a namedtuple, not a dataclass: a cached `export` loads this module (see tray/cli.py)
class RoleProfile(namedtuple("RoleProfile", "name session account_id role_name account_name region configured", defaults=(None, None, False))):
    """A role a PROFILE argument can name; `configured` when it is a profile of the AWS config."""

    __slots__ = ()

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "sso_session": self.session.name,
            "account_id": self.account_id,
            "account_name": self.account_name,
            "role_name": self.role_name,
            "region": self.region,
            "source": "config" if self.configured else "discovered",
        }


def merge(config: AwsConfig, discoveries: dict) -> list[RoleProfile]:
    """Configured role profiles first (in file order), then every discovered role not already among them.
    `discoveries` maps a session name to its `accounts.Discovery` (not imported here: keeps `export` light)."""
    names = {}
    for d in discoveries.values():
        for a in d.accounts:
            names[(d.session_name, a.account_id)] = a.name
    out: list[RoleProfile] = []
    seen: set[tuple[str, str, str]] = set()
    for p in config.profiles.values():
        if not p.has_role:
            continue
        key = (p.session.name, p.account_id, p.role_name)
        seen.add(key)
        out.append(RoleProfile(p.name, p.session, p.account_id, p.role_name, names.get(key[:2]), p.region, True))
    for session_name, d in discoveries.items():
        session = config.sessions[session_name]
        for a in d.accounts:
            for role in a.roles:
                if (session_name, a.account_id, role) not in seen:
                    out.append(RoleProfile(f"{a.account_id}/{role}", session, a.account_id, role, a.name))
    return out


def resolve(
    config: AwsConfig,
    spec: str,
    session_name: str | None,
    discovery_for: Callable,
) -> RoleProfile:
    """The role a PROFILE argument names. `discovery_for` gives a session's accounts (cache, or a fetch)
    and is only called when the argument names an account by its name."""
    if spec in config.broken:
        raise ConfigError(config.broken[spec])
    p = config.profiles.get(spec)
    if p is not None:
        if not p.has_role:
            raise UsageError(f"{config.path}: profile {spec!r} has no sso_account_id/sso_role_name")
        if session_name and p.session.name != session_name:
            raise UsageError(f"profile {spec!r} uses sso-session {p.session.name}, not {session_name}")
        return RoleProfile(p.name, p.session, p.account_id, p.role_name, None, p.region, True)
    account, sep, role = spec.partition("/")
    if not sep or not account or not role:
        raise UsageError(f"no profile named {spec!r}: give a profile from {config.path} or ACCOUNT_ID/ROLE_NAME (or ACCOUNT_NAME/ROLE_NAME)")
    session = config.session(session_name)
    configured = next((p for p in config.profiles.values() if p.session == session and p.account_id == account and p.role_name == role), None)
    if account.isdigit() and len(account) == 12:
        return RoleProfile(spec, session, account, role, None, configured.region if configured else None, False)
    discovery = discovery_for(session)
    matches = [a for a in discovery.accounts if a.name == account]
    if not matches:
        raise UsageError(f"no account named {account!r} in {session.name} (run `sso-tray profiles --refresh` to look again)")
    if len(matches) > 1:
        ids = ", ".join(a.account_id for a in matches)
        raise UsageError(f"several accounts are named {account!r} in {session.name} ({ids}): use ACCOUNT_ID/ROLE_NAME")
    found = matches[0]
    if role not in found.roles:
        raise UsageError(f"no role {role!r} in account {account} ({found.account_id}); its roles: {', '.join(found.roles) or 'none'}")
    return RoleProfile(f"{found.account_id}/{role}", session, found.account_id, role, found.name, None, False)
