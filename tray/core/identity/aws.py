"""The one place sso-tray makes AWS clients, and turns their failures into one clear line.

The AWS SDK is imported here, lazily, the first time a client is needed: commands served from the
caches (and the tray's icon) never pay for loading it. Clients come from a botocore session, the same
clients boto3 hands out, without loading boto3's resource layer on top (a fresh `export` is faster).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

from tray.core.errors import AwsError, NotSignedIn

_lock = threading.Lock()
_session = None
_clients: dict[tuple, object] = {}

# botocore's standard retry mode: backoff with jitter on throttling and transient faults.
RETRY_ATTEMPTS = 5

# The only services sso-tray calls: the portal and OIDC APIs, and the sign-in service of `aws login` sessions.
SERVICES = ("sso", "sso-oidc", "signin")


def client(service: str, region: str, *, max_pool_connections: int = 10, retry_attempts: int = RETRY_ATTEMPTS, shared: bool = True):
    """A boto3 client for `sso`, `sso-oidc` or `signin`; endpoints resolve as botocore resolves them, so
    AWS_ENDPOINT_URL_SSO, AWS_ENDPOINT_URL_SSO_OIDC and AWS_ENDPOINT_URL_SIGNIN redirect them. Clients are shared
    (thread-safe); `shared=False` makes one of the caller's own (the sign-in service's gets a DPoP signer with
    one session's key registered on it). `retry_attempts=1` hands retries to the caller (discovery paces itself)."""
    global _session
    # the endpoint comes from the environment when the client is made: a changed one needs a new client
    endpoint = os.environ.get("AWS_ENDPOINT_URL_" + service.upper().replace("-", "_")) or os.environ.get("AWS_ENDPOINT_URL")
    key = (service, region, max_pool_connections, retry_attempts, endpoint)
    with _lock:
        if shared and key in _clients:
            return _clients[key]
        from botocore import UNSIGNED
        from botocore.config import Config

        if _session is None:
            _session = _new_session()
        config = Config(
            signature_version=UNSIGNED,  # the portal and OIDC APIs take bearer tokens, not SigV4
            retries={"mode": "standard", "total_max_attempts": retry_attempts},
            connect_timeout=5,
            read_timeout=30,
            max_pool_connections=max_pool_connections,
            user_agent_extra="sso-tray",
        )
        made = _session.create_client(service, region_name=region, config=config)
        if shared:
            _clients[key] = made
        return made


def _new_session():
    """A botocore session whose model loader is told which services exist. Before it loads a model,
    botocore's own loader lists every service folder it ships (400+, for each kind of model) only to
    check the name: about 15 ms, as long as the rest of making the first client. Models are still
    read from where botocore looks for them (AWS_DATA_PATH, ~/.aws/models, botocore's data)."""
    import botocore.session
    from botocore.loaders import Loader

    class Services(Loader):
        def list_available_services(self, type_name: str) -> list[str]:
            return list(SERVICES)

    # AWS_PROFILE names the person's profile for their own tools, not the session sso-tray calls the portal
    # with: ignored here, so a profile that does not exist cannot fail an export ("ProfileNotFound")
    session = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
    search_paths = session.get_component("data_loader").search_paths
    session.register_component("data_loader", Services(extra_search_paths=list(search_paths), include_default_search_paths=False))
    return session


def error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return response.get("Error", {}).get("Code")
    return None


def translate(exc: BaseException, what: str, login_hint: str | None = None) -> BaseException:
    """The one-line TrayError for an AWS failure while doing `what`; other exceptions come back as they are."""
    from botocore.exceptions import BotoCoreError, ClientError, ConnectionError as BotoConnectionError, EndpointConnectionError

    if isinstance(exc, ClientError):
        code = error_code(exc) or "Error"
        if code in ("UnauthorizedException", "InvalidGrantException", "ExpiredTokenException") and login_hint:
            return NotSignedIn(f"{what}: the session is no longer valid ({code}); sign in again: {login_hint}")
        if code in ("TooManyRequestsException", "ThrottlingException", "SlowDownException"):
            return AwsError(f"{what}: AWS kept throttling the requests ({code}) after {RETRY_ATTEMPTS} attempts; try again in a minute")
        return AwsError(f"{what}: {code}: {_message(exc)}")
    if isinstance(exc, (EndpointConnectionError, BotoConnectionError)):
        return AwsError(f"{what}: cannot reach {_endpoint(exc)} (network error)")
    if isinstance(exc, BotoCoreError):
        return AwsError(f"{what}: {type(exc).__name__}")
    return exc


@contextlib.contextmanager
def translate_errors(what: str, login_hint: str | None = None) -> Iterator[None]:
    """Run AWS calls; any failure leaves as one TrayError line naming what was being done."""
    try:
        yield
    except Exception as e:
        translated = translate(e, what, login_hint)
        if translated is e:
            raise
        raise translated from None


def _message(e) -> str:
    err = e.response.get("Error", {})
    return (err.get("Message") or e.response.get("error_description") or "no details").strip().splitlines()[0][:200]


def _endpoint(e) -> str:
    return getattr(e, "kwargs", {}).get("endpoint_url") or "the AWS endpoint"
