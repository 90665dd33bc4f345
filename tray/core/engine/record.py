"""What the engine remembers between events: each SSO session's record (only the engine thread reads or
writes it), and what the files it follows looked like when last read."""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tray.core.engine.state import AccountView
from tray.core.identity import accounts
from tray.core.identity.config import SsoSession
from tray.core.identity.sessions import EXPIRED as STATUS_EXPIRED, SIGNED_OUT as STATUS_SIGNED_OUT, VALID as STATUS_VALID
from tray.core.identity.tokens import Token


@dataclass
class SessionRecord:
    """One session's record; only the engine thread reads or writes it."""

    session: SsoSession
    token: Token | None = None  # the token cache file as last read (None: no file, or unusable)
    seen: bytes | None = None  # the file's bytes when last read, to notice any change
    read_problem: str | None = None  # why the file is unusable
    problem: str | None = None  # what the engine's last action for it ran into
    error: bool = False  # the last network action failed (icon: error) until one succeeds
    signing_in: threading.Event | None = None  # set to cancel
    sign_in_done: Future | None = None  # resolves when the sign-in under way ends
    renewing: Future | None = None  # resolves when the renewal under way ends
    refused: str | None = None  # the access token whose refresh token the server refused
    discovery: accounts.Discovery | None = None
    refreshing: Future | None = None  # resolves when the account listing under way ends
    warned: set[int] = field(default_factory=set)
    warned_for: datetime | None = None  # the expiry the warnings above were given for
    lifetime: timedelta | None = None  # known when this tray signed in or renewed
    failures: int = 0
    account_views: tuple[AccountView, ...] = ()

    def status(self, now: datetime) -> str:
        """What the file says: what `sso-tray status` computes from disk (before any renewal)."""
        if self.token is None:
            return STATUS_SIGNED_OUT
        return STATUS_VALID if self.token.is_valid(now) else STATUS_EXPIRED

    def renewable(self, now: datetime) -> bool:
        """The token can be renewed at `now`: it has a refresh token the server has not refused, and its
        client registration is still valid then."""
        t = self.token
        return bool(t and t.refreshable and t.registration_valid(now) and t.access_token != self.refused)


def file_signature(path) -> tuple | None:
    """What a file looks like without reading it: enough to notice an edit or a replacement."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
