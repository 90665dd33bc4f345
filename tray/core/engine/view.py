"""From what the engine holds to what the tray draws: the State snapshot, and the menu's account tree.

Pure functions of the engine's records, the settings and the profiles; they run on the engine thread
after every event, so they do no I/O.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tray.core.engine.record import LoginRecord, SessionRecord
from tray.core.engine.state import (
    ERROR, EXPIRED, EXPIRING, EXPIRING_WITHIN, LOGIN, SIGNED_OUT, SIGNING_IN, VALID,
    AccountView, RoleView, SessionView, State,
)
from tray.core.files.settings import Settings
from tray.core.identity.config import AwsConfig
from tray.core.identity.profiles import RoleProfile, merge
from tray.core.identity.sessions import EXPIRED as STATUS_EXPIRED, VALID as STATUS_VALID
from tray.core.naming import natural_key

ASSUMED_LIFETIME = timedelta(hours=8)  # Identity Center's default, for the ring of a token read from disk
LOGIN_LIFETIME = timedelta(minutes=15)  # what an `aws login` sign-in's credentials last


def build_state(now: datetime, records: dict[str, SessionRecord], roles: dict[str, RoleProfile], settings: Settings,
                logins: dict[str, LoginRecord] | None = None, **shown) -> State:
    """The snapshot; `shown` carries what no record holds (autostart, problem, message, message_failed)."""
    login_views = tuple(login_view(r, now) for r in (logins or {}).values())
    views = tuple(session_view(s, now) for s in records.values()) + login_views
    login_roles = {v.name: v.accounts[0].roles[0] for v in login_views}

    def shortcut(name: str) -> RoleView | None:  # a role profile's name wins, as in botocore's chain (SSO first)
        return role_view(roles[name]) if name in roles else login_roles.get(name)

    s = settings
    return State(
        now=now,
        sessions=views,
        favourites=tuple(r for r in map(shortcut, s.favourites) if r is not None),
        recent=tuple(r for r in map(shortcut, (p for p in s.recent if p not in s.favourites)) if r is not None),
        pinned=frozenset(s.pinned),
        favourite_names=frozenset(s.favourites),
        default_format=s.default_format or default_format(),
        warn_minutes=tuple(s.warn_minutes),
        clear_clipboard_after=s.clear_clipboard_after,
        notifications=s.notifications,
        **shown,
    )


def session_view(s: SessionRecord, now: datetime) -> SessionView:
    status = s.status(now)
    expires = s.token.expires_at if s.token else None
    # a failing network action does not hide how urgent the session is: it is a badge on its state
    if s.signing_in is not None:
        kind = SIGNING_IN
    elif status == STATUS_VALID:
        kind = EXPIRING if expires - now <= EXPIRING_WITHIN and not s.renewable(now) else VALID
    elif status == STATUS_EXPIRED:
        kind = EXPIRED
    else:
        kind = SIGNED_OUT
    return SessionView(
        name=s.session.name,
        state=kind,
        status=status,
        expires_at=expires,
        lifetime=s.lifetime or (max(ASSUMED_LIFETIME, expires - now) if expires else None),
        problem=s.session.problem or s.problem or s.read_problem,  # a section that cannot be used: this session's
        accounts=s.account_views,
        refreshing=s.refreshing is not None,
        failing=s.error,
        retry_at=s.retry_at if s.error else None,
    )


def login_view(r: LoginRecord, now: datetime) -> SessionView:
    """An `aws login` profile as a session of its own, whose one account holds its profile (by its name, as
    the menu shows configured profiles): the principal that signed in stands where a role's name would."""
    status = r.status(now)
    expires = r.token.expires_at if r.token else None
    if r.signing_in is not None:
        kind = SIGNING_IN
    elif r.error:
        kind = ERROR
    elif status == STATUS_VALID:
        kind = EXPIRING if expires - now <= EXPIRING_WITHIN and not r.renewable() else VALID
    elif status == STATUS_EXPIRED:
        kind = EXPIRED
    else:
        kind = SIGNED_OUT
    p = r.profile
    arn = p.login_session.split(":")
    account = (r.token.account_id if r.token else None) or (arn[4] if len(arn) > 5 else "")
    principal = arn[5] if len(arn) > 5 else p.login_session
    role = RoleView(p.name, account, account, principal, p.name, login=True)
    return SessionView(
        name=p.name,
        state=kind,
        status=status,
        expires_at=expires,
        lifetime=max(LOGIN_LIFETIME, expires - now) if expires else None,
        problem=r.problem or r.read_problem,
        accounts=(AccountView(account, account, (role,)),),
        kind=LOGIN,
    )


def role_view(p: RoleProfile) -> RoleView:
    return RoleView(p.name, p.account_id, p.account_name or p.account_id, p.role_name, p.session.name)


def rebuild_roles(config: AwsConfig | None, records: dict[str, SessionRecord]) -> dict[str, RoleProfile]:
    """Profiles by name, and each record's account tree for the menu, from the config and the discoveries."""
    if config is None:
        return {}
    discoveries = {n: s.discovery for n, s in records.items() if s.discovery is not None}
    merged = merge(config, discoveries)
    by_session: dict[str, dict[str, list[RoleView]]] = {}
    names: dict[tuple[str, str], str] = {}
    for p in merged:
        by_session.setdefault(p.session.name, {}).setdefault(p.account_id, []).append(role_view(p))
        if p.account_name:
            names[(p.session.name, p.account_id)] = p.account_name
    for name, s in records.items():
        accts = by_session.get(name, {})
        s.account_views = tuple(
            sorted(
                (AccountView(aid, names.get((name, aid), aid), tuple(sorted(roles, key=lambda r: natural_key(r.role_name))))
                 for aid, roles in accts.items()),
                key=lambda a: (natural_key(a.name), a.account_id),
            )
        )
    return {p.name: p for p in merged}


def same(a: State, b: State) -> bool:
    """The same picture, but for the time it was taken (the minute's tick republishes anyway)."""
    return a.__dict__ | {"now": None} == b.__dict__ | {"now": None}


def default_format() -> str:
    from tray.core.outlets.exports import default_format as platform_default

    return platform_default()
