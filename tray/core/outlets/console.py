"""The AWS console signed in as a role: role credentials → the sign-in federation endpoint → a login link (SPEC §9).

`getSigninToken` exchanges the credentials (as the `Session` JSON) for a sign-in token, and
`Action=login&Issuer=…&Destination=…&SigninToken=…` is the link that opens the console. It is not an
AWS SDK API (no boto3 client exists for it), so it is plain HTTPS via urllib, sent as a POST so that the
credentials travel in the body rather than in a URL. Each partition has its own sign-in host;
`SSO_TRAY_FEDERATION_URL` overrides it (the tests point it at the simulator).

The link is a bearer credential: whoever has it is signed in. It is returned to the caller, who
either hands it to the browser or prints it on request; it is never logged.
"""

from __future__ import annotations

import json
import os
from urllib.parse import urlencode, urlsplit

from tray.core.credentials import RoleCredentials
from tray.core.errors import AwsError, UsageError

FEDERATION_URL_ENV = "SSO_TRAY_FEDERATION_URL"
ISSUER = "sso-tray"
TIMEOUT = 30.0
OPEN_TIMEOUT = 120.0  # how long a browser may take to come up and fetch the link

# partition -> (its sign-in federation endpoint, its console host)
PARTITIONS = {
    "aws": ("https://signin.aws.amazon.com/federation", "console.aws.amazon.com"),
    "aws-cn": ("https://signin.amazonaws.cn/federation", "console.amazonaws.cn"),
    "aws-us-gov": ("https://signin.amazonaws-us-gov.com/federation", "console.amazonaws-us-gov.com"),
}


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def federation_url(region: str, environ: dict | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get(FEDERATION_URL_ENV) or PARTITIONS[partition_of(region)][0]


def default_destination(region: str) -> str:
    """The console home of `region`, on its partition's console."""
    partition = partition_of(region)
    host = PARTITIONS[partition][1]
    if partition == "aws":
        host = f"{region}.{host}"  # the regional console, as the console itself links to it
    return f"https://{host}/console/home?" + urlencode({"region": region})


def service_destination(service: str, region: str) -> str:
    """The console page of one service (`s3`, `ec2`, `cloudwatch`…) in `region`."""
    import re

    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", service):
        raise UsageError(f"--service must be a console service name such as s3, ec2 or cloudwatch, not {service!r}")
    home = default_destination(region)
    return home.replace("/console/home?", f"/{service}/home?", 1)


def signin_token_request(creds: RoleCredentials, federation: str) -> tuple[str, bytes]:
    """The getSigninToken request: the endpoint and its form body (which carries the secrets)."""
    session = json.dumps({
        "sessionId": creds.access_key_id,
        "sessionKey": creds.secret_access_key,
        "sessionToken": creds.session_token,
    })
    return federation, urlencode({"Action": "getSigninToken", "Session": session}).encode("ascii")


def login_url(federation: str, signin_token: str, destination: str) -> str:
    """The link that signs the browser in and lands on `destination`."""
    query = urlencode({"Action": "login", "Issuer": ISSUER, "Destination": destination, "SigninToken": signin_token})
    return f"{federation}?{query}"


def check_destination(destination: str) -> str:
    parts = urlsplit(destination)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UsageError(f"--destination must be a console URL (https://…), not {destination!r}")
    return destination


def console_url(profile, creds: RoleCredentials, destination: str | None = None, region: str | None = None) -> str:
    """The console login link for `profile` (a `profiles.RoleProfile`) signed in with `creds`.

    The page is `destination`, else the console home of `region`, else of the profile's region, else of
    its SSO session's region."""
    from urllib.error import HTTPError, URLError
    from urllib.request import Request, urlopen

    region = region or profile.region or profile.session.region
    destination = check_destination(destination) if destination else default_destination(region)
    federation = federation_url(region)
    url, body = signin_token_request(creds, federation)
    what = f"signing in to the AWS console as {profile.role_name} in {profile.account_id}"
    request = Request(url, data=body, method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json",
        "User-Agent": ISSUER,
    })
    try:
        with urlopen(request, timeout=TIMEOUT) as response:
            answer = json.loads(response.read().decode("utf-8"))
        signin_token = answer["SigninToken"]
    except HTTPError as e:
        raise AwsError(f"{what}: the sign-in federation endpoint refused the credentials (HTTP {e.code})") from None
    except (URLError, OSError) as e:
        reason = getattr(e, "reason", None) or e
        raise AwsError(f"{what}: cannot reach {urlsplit(federation).netloc} ({reason})") from None
    except (ValueError, KeyError, TypeError):
        raise AwsError(f"{what}: the sign-in federation endpoint gave no sign-in token") from None
    return login_url(federation, signin_token, destination)


def open_url(url: str, timeout: float = OPEN_TIMEOUT) -> None:
    """Send the default browser (`$BROWSER` picks the program) to `url` without putting it on a command line.

    A browser is started with its URL as an argument, visible to every user of the machine; the sign-in
    link is a credential, so the browser gets a one-time loopback address instead, which answers with a
    redirect to the link once and then closes. Returns once the browser has fetched it; AwsError when no
    browser opens or none comes within `timeout` seconds."""
    import threading
    import time
    import webbrowser

    with _OneTimeRedirect(url) as redirect:
        outcome: list[bool] = []

        def start_browser() -> None:
            try:
                outcome.append(bool(webbrowser.open(redirect.address, new=2)))
            except Exception:  # noqa: BLE001 - a broken $BROWSER is reported below
                outcome.append(False)

        # On its own thread: with $BROWSER, webbrowser waits for the program, which may run until it is closed.
        threading.Thread(target=start_browser, daemon=True, name="open-console").start()
        deadline = time.monotonic() + timeout
        while not redirect.served.wait(0.1):
            if outcome and not outcome[0]:
                raise AwsError("no web browser could be opened (set $BROWSER, or use `sso-tray console PROFILE --print`)")
            if time.monotonic() > deadline:
                raise AwsError(f"the browser did not open the console link within {timeout:.0f} s")


class _OneTimeRedirect:
    def __init__(self, target: str) -> None:
        import secrets
        import threading
        from http.server import BaseHTTPRequestHandler

        from tray.core.osutil.loopback import SameUserHTTPServer

        self.served = threading.Event()
        path = "/" + secrets.token_urlsafe(24)
        outer = self
        once = threading.Lock()  # two requests at once: one gets the link

        class Handler(BaseHTTPRequestHandler):
            timeout = 5  # a browser's idle pre-connect must not hold a thread for long

            def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
                pass

            def do_GET(self) -> None:  # noqa: N802
                with once:
                    first = secrets.compare_digest(self.path, path) and not outer.served.is_set()
                    if first:
                        outer.served.set()
                self.send_response(302 if first else 404)
                if first:
                    self.send_header("Location", target)
                self.send_header("Cache-Control", "no-store")
                self.send_header("Referrer-Policy", "no-referrer")
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._httpd = SameUserHTTPServer(("127.0.0.1", 0), Handler)  # not another user who read the browser's command line
        self.address = f"http://127.0.0.1:{self._httpd.server_address[1]}{path}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True, name="console-redirect")

    def __enter__(self) -> "_OneTimeRedirect":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
