"""Terminals that never go stale: the tray's credentials endpoint, and how `sso-tray export --refreshing` asks it.

While the tray runs it serves the container credentials protocol on 127.0.0.1 and a port of its own
(tray.core.outlets.endpoint, with its door rules). "Copy as auto-refreshing" (menu, finder page) and
`sso-tray export PROFILE --refreshing` give a shell `AWS_CONTAINER_CREDENTIALS_FULL_URI` and
`AWS_CONTAINER_AUTHORIZATION_TOKEN`: every SDK in it then asks the tray, which answers with the engine's
credentials for that profile (renewed as they near expiry) for as long as the session is valid, and with
"sign in again" once it is not. One token per profile per tray start; "Revoke terminal tokens" revokes them
all (the next copy issues new ones), and Quit ends them with the endpoint.

`export --refreshing` finds the tray as `sso-tray find` does (tray.ui.finder.channel): `terminals.json`
(mode 0600, in the 0700 locks folder, written while the tray holds its single-instance lock, removed when
it quits) holds the endpoint's origin and its key, which `POST /tokens` takes in a header.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, TimeoutError as FutureTimeout

from tray.core.errors import AwsError, NotSignedIn, TrayError, UsageError
from tray.core.files import paths
from tray.core.outlets.endpoint import ISSUE_PATH, KEY_HEADER, CredentialEndpoint
from tray.ui.finder import channel

ANSWER_WAIT = 30.0  # seconds a request may wait for the engine (an AWS call under a rate limit)
NOT_RUNNING = ("the tray is not running, and --refreshing lines are served by it: start it with `sso-tray run`"
               " (or use `sso-tray exec PROFILE --server`)")


class Terminals:
    """The tray's endpoint for terminals: a token per profile, the engine's credentials behind each."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.endpoint = CredentialEndpoint(clock=engine.clock, issuer=self._issue_for_command)
        self._tokens: dict[str, str] = {}  # profile → its token
        self._lock = threading.Lock()

    def start(self) -> Terminals:
        self.endpoint.start()
        channel.publish(self.endpoint.origin, self.endpoint.key, channel_file())
        return self

    def stop(self) -> None:
        """Quit: the tokens die with the endpoint."""
        channel.withdraw(channel_file())
        with self._lock:
            self._tokens.clear()
        self.endpoint.stop()

    def variables_for(self, profile: str) -> dict[str, str]:
        """The container variables of `profile`'s token (issued on first use)."""
        with self._lock:
            token = self._tokens.get(profile)
            if token is None:
                token = self._tokens[profile] = self.endpoint.issue(lambda: self._credentials(profile))
        return self.endpoint.variables(token)

    def revoke_all(self) -> int:
        """Revoke every terminal's token; how many there were."""
        with self._lock:
            self._tokens.clear()
            return self.endpoint.revoke_all()

    def copy(self, profile: str, fmt: str | None = None) -> Future:
        """"Copy as auto-refreshing": the lines for `profile` on the clipboard, the outcome in the menu."""
        return self.engine.copy_refreshing(profile, self.variables_for, fmt)

    def _credentials(self, profile: str):
        try:
            creds = self.engine.role_credentials(profile).result(ANSWER_WAIT)
        except FutureTimeout:
            raise AwsError("the tray is still fetching these credentials: try again") from None
        if creds is None:  # the engine has stopped: the tray is quitting
            raise AwsError("the tray is quitting")
        return creds

    def _issue_for_command(self, body: dict) -> tuple[int, dict]:
        """`POST /tokens {"profile": NAME}` from `export --refreshing`: the profile's variables, once the
        session has given it credentials (so that a signed-out session fails now, not in the shell later)."""
        profile = body.get("profile")
        if not isinstance(profile, str):
            return 400, {"message": "name a profile"}
        try:
            self._credentials(profile)
        except NotSignedIn as e:
            return 409, {"message": str(e), "signed_out": True}
        except TrayError as e:
            return 502, {"message": str(e)}
        return 200, {"variables": self.variables_for(profile)}


def channel_file():
    return paths.app_locks_dir() / "terminals.json"


def ask_for_variables(profile: str, timeout: float = ANSWER_WAIT + 5) -> dict[str, str]:
    """`export --refreshing`: the running tray's container variables for `profile`. UsageError when no tray
    answers, NotSignedIn or AwsError when it cannot give the profile credentials."""
    _origin, status, answer = channel.ask(channel_file(), ISSUE_PATH, KEY_HEADER, NOT_RUNNING, {"profile": profile}, timeout)
    if not isinstance(answer, dict):
        raise UsageError(NOT_RUNNING)
    if status == 200 and isinstance(answer.get("variables"), dict):
        return answer["variables"]
    message = str(answer.get("message") or NOT_RUNNING)
    if answer.get("signed_out"):
        raise NotSignedIn(message)
    raise AwsError(message) if status == 502 else UsageError(message)
