"""The profiles a person can ask for: configured SSO profiles merged with discovered account/roles.

A PROFILE argument is a configured profile name, or `ACCOUNT_ID/ROLE_NAME`, or `ACCOUNT_NAME/ROLE_NAME`
for any role the signed-in session can assume. Where a configured profile and a discovered role are
the same account and role, the configured name wins.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable

from tray.core.identity.config import AwsConfig
from tray.core.errors import ConfigError, NotSignedIn, UsageError
from tray.core.naming import did_you_mean


# a namedtuple, not a dataclass: a cached `export` loads this module (see tray/cli.py)
class RoleProfile(namedtuple("RoleProfile", "name session account_id role_name account_name region configured", defaults=(None, None, False))):
    """A role a PROFILE argument can name; `configured` when it is a profile of the AWS config."""

    __slots__ = ()

    @property
    def label(self) -> str:
        """How messages name it, account name first: `prod-1 / PowerUserAccess (dev-admin)`."""
        own = f" ({self.name})" if self.configured else ""
        if self.account_name:
            return f"{self.account_name} / {self.role_name}{own}"
        return self.name if self.configured else f"{self.account_id}/{self.role_name}"

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


def shown_names(profiles: list[RoleProfile]) -> list[str]:
    """What a person reads and types for each profile: a configured one by its own name, a discovered one as
    ACCOUNT_NAME/ROLE_NAME, or ACCOUNT_ID/ROLE_NAME where its session has several accounts of that name."""
    counts: dict[tuple, set] = {}
    for p in profiles:
        if p.account_name:
            counts.setdefault((p.session.name, p.account_name.casefold()), set()).add(p.account_id)
    return [
        p.name if p.configured or not p.account_name or len(counts[(p.session.name, p.account_name.casefold())]) > 1
        else f"{p.account_name}/{p.role_name}"
        for p in profiles
    ]


def resolve(
    config: AwsConfig,
    spec: str,
    session_name: str | None,
    discovery_for: Callable,
) -> RoleProfile:
    """The role a PROFILE argument names: a configured profile, or ACCOUNT_NAME/ROLE_NAME (any case) or
    ACCOUNT_ID/ROLE_NAME in any session, or only in `session_name` when given. `discovery_for` gives a
    session's accounts (cache, or a fetch; `NotSignedIn` when it cannot) and is only called when the
    argument names an account by its name, or by an id that several sessions might hold.

    Without --sso-session, a name only one signed-in session knows needs none: a signed-out session that
    cannot say what it holds, or a cached list of a signed-out one, does not make it ambiguous."""
    if spec in config.broken:
        raise ConfigError(config.broken[spec])
    p = config.profiles.get(spec)
    if p is not None:
        if not p.has_role:
            raise UsageError(f"{config.path}: profile {spec!r} has no sso_account_id/sso_role_name")
        if session_name and p.session.name != session_name:
            raise UsageError(f"profile {spec!r} uses sso-session {p.session.name}, not {session_name}")
        return RoleProfile(p.name, p.session, p.account_id, p.role_name, None, p.region, True)
    account, sep, role = spec.rpartition("/")  # an account's name may hold a "/", a role's name may not
    if not sep or not account or not role:
        known = [name for name, q in config.profiles.items() if q.has_role]
        raise UsageError(f"no profile named {spec!r}{did_you_mean(spec, known)}: give a profile from {config.path},"
                         " ACCOUNT_NAME/ROLE_NAME or ACCOUNT_ID/ROLE_NAME")
    sessions = [config.session(session_name)] if session_name or len(config.sessions) <= 1 else list(config.sessions.values())
    by_id = account.isdigit() and len(account) == 12
    if by_id:
        configured = [q for q in config.profiles.values()
                      if q.session in sessions and q.account_id == account and q.role_name.casefold() == role.casefold()]
        if len(sessions) == 1 or len({q.session for q in configured}) == 1:
            session = configured[0].session if configured else sessions[0]
            return _role(config, session, account, configured[0].role_name if configured else role, None)
    found, listed, not_signed_in = [], [], []
    for session in sessions:
        try:
            discovery = discovery_for(session)
        except NotSignedIn as e:
            not_signed_in.append(e)
            continue
        listed += discovery.accounts
        for a in discovery.accounts:
            if (a.account_id == account) if by_id else (a.name.casefold() == account.casefold()):
                found.append((session, a))
    if not found:
        if not_signed_in and len(not_signed_in) == len(sessions):
            raise not_signed_in[0]
        names = [a.account_id if by_id else a.name for a in listed]
        where = sessions[0].name if len(sessions) == 1 else "any signed-in session"
        raise UsageError(f"no account {'' if by_id else 'named '}{account!r} in {where}{did_you_mean(account, names)}"
                         " (run `sso-tray profiles --refresh` to look again)")
    matches = [(s, a, r) for s, a in found for r in a.roles if r.casefold() == role.casefold()]
    if not matches:
        a = found[0][1]
        raise UsageError(f"no role {role!r} in account {a.name} ({a.account_id}){did_you_mean(role, a.roles)};"
                         f" its roles: {', '.join(a.roles) or 'none'}")
    for prefer in (lambda m: m[1].name == account, lambda m: m[2] == role, lambda m: _signed_in(m[0])):
        if len(matches) > 1 and any(prefer(m) for m in matches):
            matches = [m for m in matches if prefer(m)]
    if len(matches) > 1:
        choices = "; ".join(f"{a.account_id}/{r} in {s.name}" for s, a, r in matches)
        raise UsageError(f"{spec!r} names several roles ({choices}): give ACCOUNT_ID/ROLE_NAME"
                         f"{'' if session_name else ' and --sso-session NAME where the sessions differ'}")
    session, found_account, found_role = matches[0]
    return _role(config, session, found_account.account_id, found_role, found_account.name)


def _role(config: AwsConfig, session, account_id: str, role_name: str, account_name: str | None) -> RoleProfile:
    """A discovered role, named by the configured profile that points at it where there is one."""
    configured = next((p for p in config.profiles.values()
                       if p.session == session and p.account_id == account_id and p.role_name == role_name), None)
    if configured is not None:
        return RoleProfile(configured.name, session, account_id, role_name, account_name, configured.region, True)
    return RoleProfile(f"{account_id}/{role_name}", session, account_id, role_name, account_name, None, False)


def _signed_in(session) -> bool:
    """The token file holds a token that has not expired (the files alone: no AWS call)."""
    from tray.core.credentials import utcnow
    from tray.core.identity.tokens import CorruptTokenCache, read_token

    try:
        token = read_token(session)
    except CorruptTokenCache:  # an unreadable token is not a signed-in session
        return False
    return token is not None and token.expires_at > utcnow()
