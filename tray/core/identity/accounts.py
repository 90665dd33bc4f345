"""Every account and role the signed-in session can use, from ListAccounts and ListAccountRoles.

Accounts are listed page by page; their roles are fetched concurrently by a bounded pool, paced by an
adaptive rate limiter and retried with exponential backoff and jitter on `TooManyRequestsException`.
The result is cached per session (atomic, 0600) so the next start shows it at once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from tray.core.identity import aws
from tray.core.files import paths
from tray.core.identity.config import SsoSession
from tray.core.credentials import format_time, parse_time, utcnow
from tray.core.errors import AwsError
from tray.core.files.fileio import atomic_write
from tray.core.identity.ratelimit import AdaptiveRateLimiter, backoff_delay
from tray.core.naming import natural_key
from tray.core.identity.tokens import Token

WORKERS = 32
PENDING_PER_WORKER = 2
PAGE_SIZE = 100
MAX_ATTEMPTS = 10
THROTTLE_CODES = ("TooManyRequestsException", "ThrottlingException")
CACHE_VERSION = 1


@dataclass(frozen=True, slots=True)  # one per account, thousands in a tray
class Account:
    account_id: str
    name: str
    email: str = ""
    roles: tuple[str, ...] = ()


@dataclass
class Discovery:
    session_name: str
    start_url: str
    fetched_at: datetime
    accounts: list[Account] = field(default_factory=list)
    calls: int = 0
    throttled: int = 0

    @property
    def role_count(self) -> int:
        return sum(len(a.roles) for a in self.accounts)

    def to_cache(self) -> dict:
        return {
            "version": CACHE_VERSION,
            "session": self.session_name,
            "startUrl": self.start_url,
            "fetchedAt": format_time(self.fetched_at),
            "accounts": [{"accountId": a.account_id, "accountName": a.name, "emailAddress": a.email, "roles": list(a.roles)} for a in self.accounts],
        }

    @classmethod
    def from_cache(cls, body: dict) -> "Discovery":
        return cls(
            session_name=body["session"],
            start_url=body["startUrl"],
            fetched_at=parse_time(body["fetchedAt"]),
            accounts=[Account(a["accountId"], a["accountName"], a.get("emailAddress", ""), tuple(a["roles"])) for a in body["accounts"]],
        )


def cache_path(session: SsoSession) -> Path:
    return paths.app_cache_dir() / "accounts" / f"{session.cache_key}.json"


def read_cache(session: SsoSession) -> Discovery | None:
    """The cached discovery for the session, or None (missing, corrupt, or for another start URL)."""
    try:
        body = json.loads(cache_path(session).read_text(encoding="utf-8"))
        if body.get("version") != CACHE_VERSION:
            return None
        discovery = Discovery.from_cache(body)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return discovery if discovery.start_url == session.start_url else None


def write_cache(session: SsoSession, discovery: Discovery) -> None:
    # compact: json's C encoder does not indent, and the Python one it falls back to for an indent builds
    # the text of thousands of accounts from a list of small strings (time, and a tray's memory peak)
    atomic_write(cache_path(session), json.dumps(discovery.to_cache(), separators=(",", ":")), mode=0o600)


class _Caller:
    """Makes portal calls under the shared limiter, retrying throttled ones with backoff."""

    def __init__(self, session: SsoSession, token: Token, workers: int, limiter: AdaptiveRateLimiter):
        self.session = session
        self.token = token
        self.limiter = limiter
        self.client = aws.client("sso", session.region or token.region, max_pool_connections=workers, retry_attempts=1)
        self._lock = threading.Lock()
        self.calls = 0
        self.throttled = 0

    def call(self, operation: str, **kwargs) -> dict:
        method = getattr(self.client, operation)
        what = f"listing the accounts of {self.session.name}"
        for attempt in range(MAX_ATTEMPTS):
            sent = self.limiter.acquire()
            with self._lock:
                self.calls += 1
            try:
                response = method(accessToken=self.token.access_token, **kwargs)
            except Exception as e:
                if aws.error_code(e) in THROTTLE_CODES:
                    with self._lock:
                        self.throttled += 1
                    self.limiter.throttled(sent)
                    time.sleep(backoff_delay(attempt))
                    continue
                self.limiter.answered(sent)
                raise aws.translate(e, what, self.session.login_hint) from None
            self.limiter.success(sent)
            return response
        raise AwsError(f"{what}: AWS kept throttling the requests after {MAX_ATTEMPTS} attempts; try again in a minute")

    def pages(self, operation: str, key: str, **kwargs) -> Iterator[list[dict]]:
        next_token = None
        while True:
            extra = {"nextToken": next_token} if next_token else {}
            response = self.call(operation, maxResults=PAGE_SIZE, **kwargs, **extra)
            yield response.get(key, [])
            next_token = response.get("nextToken")
            if not next_token:
                return


def discover(session: SsoSession, token: Token, *, workers: int = WORKERS, limiter: AdaptiveRateLimiter | None = None,
             clock=utcnow) -> Discovery:
    """All accounts and roles of the session (all pages), cached on disk before it returns."""
    started = clock()
    caller = _Caller(session, token, workers, limiter or AdaptiveRateLimiter())

    def roles_of(info: dict) -> Account:
        roles = [r["roleName"] for page in caller.pages("list_account_roles", "roleList", accountId=info["accountId"]) for r in page]
        return Account(info["accountId"], info.get("accountName") or info["accountId"], info.get("emailAddress", ""), tuple(roles))

    accounts: list[Account] = []
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="discover") as pool:
        # the roles of a page's accounts are fetched while the next page of accounts is listed; at most
        # PENDING_PER_WORKER accounts per worker wait their turn (each waiting one holds a Future of about
        # a kilobyte: thousands of them at once were most of a tray's memory peak)
        pending: deque[Future] = deque()
        try:
            for page in caller.pages("list_accounts", "accountList"):
                for info in page:
                    if len(pending) >= workers * PENDING_PER_WORKER:
                        accounts.append(pending.popleft().result())
                    pending.append(pool.submit(roles_of, info))
            accounts += [f.result() for f in pending]
        except BaseException:
            pool.shutdown(cancel_futures=True)  # one failure fails the discovery: no more calls
            raise
    accounts.sort(key=lambda a: (natural_key(a.name), a.account_id))
    discovery = Discovery(session.name, session.start_url, started, accounts, caller.calls, caller.throttled)
    write_cache(session, discovery)
    return discovery
