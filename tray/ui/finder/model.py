"""What the finder page is told: a State turned into plain JSON, with no secret in it.

A pure function of the snapshot (like the menu), so the page shows exactly what the menu shows and the
test of "no secret reaches the page" is a test of this one function's output.
"""

from __future__ import annotations

from tray.core.engine.state import State, clock_time, describe_left
from tray.core.naming import natural_key
from tray.core.outlets.exports import FORMATS

STATUS_WORDS = {
    "valid": "valid", "expiring": "expiring soon", "expired": "expired",
    "signing_in": "signing in…", "error": "error", "signed_out": "signed out",
}


def session_line(session, now) -> str:
    """`5h 12m left, until 17:42`, as the menu's status line says it after the session's name."""
    left = session.left(now)
    if session.state in ("valid", "expiring") and left:
        return f"{describe_left(left)} left, until {clock_time(session.expires_at, now)}"
    if session.state == "expired" and session.expires_at:
        return f"expired at {clock_time(session.expires_at, now)}"
    return STATUS_WORDS.get(session.state, session.state)


def page_data(state: State) -> dict:
    """The page's whole model: sessions, every role once, the formats, the last action's outcome.

    A role's `profile` is what the tray's actions take; `configured` is the AWS config's profile name
    when one points at the role (the engine names such a role by it), so the page can show it beside
    the role name. Roles come in number-aware order of account and role name (`prod-51` before `prod-151`),
    which the page keeps among equally good matches; `first` lists the favourites, then the recent
    profiles, which the page shows first while its search box is empty."""
    roles = []
    every = [(session, role) for session in state.sessions for account in session.accounts for role in account.roles]
    every.sort(key=lambda sr: (natural_key(sr[1].account_name), natural_key(sr[1].role_name), sr[1].account_id, sr[0].name))
    for session, role in every:
        generated = f"{role.account_id}/{role.role_name}"
        roles.append({
            "profile": role.profile,
            "configured": None if role.profile == generated else role.profile,
            "account_id": role.account_id,
            "account_name": role.account_name,
            "role_name": role.role_name,
            "session": session.name,
            "favourite": role.profile in state.favourite_names,
            "pinned": role.profile in state.pinned,
        })
    return {
        "sessions": [
            {
                "name": s.name,
                "state": s.state,
                "text": session_line(s, state.now),
                "seconds_left": int(s.left(state.now).total_seconds()) if s.expires_at else None,
                "problem": s.problem,
                "refreshing": s.refreshing,
            }
            for s in state.sessions
        ],
        "roles": roles,
        "first": list(dict.fromkeys([r.profile for r in state.favourites] + [r.profile for r in state.recent])),
        "formats": list(FORMATS),
        "default_format": state.default_format,
        "problem": state.problem,
        "message": state.message,
        "message_failed": state.message_failed,
    }
