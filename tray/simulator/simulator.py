"""The Simulator: starts and stops the server, and lets tests look inside and steer it."""

from __future__ import annotations

import threading
from typing import Any

from .directory import Directory, DirectoryCache
from .federation import Federation
from .options import SimulatorOptions
from .server import SimServer
from .signin import SigninService
from .state import IdentityStore
from .traffic import Traffic


class Simulator:
    """A local IAM Identity Center (sso-oidc + sso portal) on one port.

    >>> with Simulator(SimulatorOptions(accounts=5)) as sim:   # doctest: +SKIP
    ...     boto3.client("sso", endpoint_url=sim.url, region_name="us-east-1")
    """

    def __init__(self, options: SimulatorOptions | None = None, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.store = IdentityStore(options if options is not None else SimulatorOptions())
        self.traffic = Traffic()
        self.federation = Federation()
        self.signin = SigninService(self.store.now, lambda: self.options.login_principal,
                                    lambda: self.options.login_credential_lifetime, lambda: self.options.login_session_lifetime)
        self._directories = DirectoryCache()
        self._host = host
        self._port = port
        self._server: SimServer | None = None
        self._thread: threading.Thread | None = None
        self._lifecycle = threading.Lock()
        self._vanity: dict[str, tuple[str, bool]] = {}  # host -> (where it redirects, whether HEAD is answered)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Simulator:
        """Serve in a daemon thread. After ``stop()`` it starts again on the same port, state kept."""
        with self._lifecycle:
            if self._server is None:
                server = SimServer((self._host, self._port), self)
                self._port = server.server_address[1]
                thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                          name=f"identity-center-simulator:{self._port}", daemon=True)
                self._server, self._thread = server, thread
                thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and cut open connections."""
        with self._lifecycle:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
            server.close_connections()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if not self._port:
            raise RuntimeError("the simulator has no port until start()")
        host = self._host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self._port}"

    # -- settings and the directory ----------------------------------------------------------------

    @property
    def options(self) -> SimulatorOptions:
        return self.store.options

    @options.setter
    def options(self, value: SimulatorOptions) -> None:
        self.store.options = value

    def directory(self) -> Directory:
        return self._directories.current(self.options)

    def accounts(self) -> list[dict[str, Any]]:
        """Every account as AccountInfo plus its ``roles``, in ListAccounts order."""
        return [{**a.info(), "roles": list(a.roles)} for a in self.directory().accounts]

    # -- what happened ------------------------------------------------------------------------------

    def calls(self) -> dict[str, int]:
        """Operation name -> API calls received (throttled ones included)."""
        return self.traffic.calls()

    def throttled(self) -> dict[str, int]:
        """Operation name -> API calls answered 429 TooManyRequestsException."""
        return self.traffic.throttled()

    def authorize_requests(self) -> list[dict[str, str]]:
        """The query parameters of every GET /authorize, oldest first."""
        return self.traffic.authorize_requests()

    def reset_counts(self) -> None:
        """Clear calls(), throttled() and authorize_requests()."""
        self.traffic.reset()

    # -- steering -------------------------------------------------------------------------------------

    def pending_device_codes(self) -> list[str]:
        return self.store.pending_device_codes()

    def approve_device(self, user_code: str, allow: bool = True) -> bool:
        """Answer a device sign-in as the person would; False if the code is not pending."""
        return self.store.approve_device(user_code, allow)

    def revoke_all_tokens(self) -> None:
        """End every sign-in session: all access and refresh tokens stop working."""
        self.store.revoke_all_tokens()

    def forget_clients(self) -> None:
        """Forget every client registration: the next sign-in with a cached one is refused."""
        self.store.forget_clients()

    def issued_credentials(self, access_key_id: str) -> bool:
        """Whether GetRoleCredentials handed out this access key id."""
        return self.federation.is_issued(access_key_id)

    def serve_vanity(self, host: str, landing: str, head_allowed: bool = True) -> None:
        """Answer requests whose Host is `host` (a company's own start URL) with a redirect to `landing`, e.g.
        `https://ssoins-1.portal.eu-west-1.app.aws/start`; with `head_allowed` False, HEAD gets 405 (GET redirects)."""
        self._vanity[host.lower()] = (landing, head_allowed)

    def vanity_landing(self, host: str) -> tuple[str, bool] | None:
        return self._vanity.get(host.lower())

    def advance_time(self, seconds: float) -> None:
        """Age everything the simulator issued by ``seconds`` (tokens, codes, sessions, clients)."""
        self.store.advance(seconds)
