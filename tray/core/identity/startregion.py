"""The region of a start URL when the AWS config has no `sso_region`, found as the AWS CLI v2 finds it.

Since 2.35.13 the AWS CLI accepts an SSO session without `sso_region` (`awscli/customizations/sso/resolve.py`):
- AWS-owned hosts name their region: `{id}.portal.{region}.app.aws`, `{id}.{region}.portal.amazonaws.com`, the
  `.com.cn` forms and the EU sovereign cloud's `.portal.amazonaws.eu` and `.api.amazonwebservices.eu`.
  (The CLI still asks for `sso_region` with such a URL; the host says it, so sso-tray reads it there.)
  `*.awsapps.com`, `*.awsapps.cn` and the `identitycenter.*` issuer hosts are AWS-owned but name no region.
- Any other host is a vanity URL: one redirect is followed (HEAD, GET when HEAD answers 405 or 501), and the
  region is read from the AWS-owned URL it lands on, which is also what the OIDC API is given as the issuer.

Reading a host name is free; the redirect is one request, made only when a sign-in needs the region.
`SSO_TRAY_START_URL_PROBE=http://127.0.0.1:PORT` sends that one request to a local server (plain HTTP, the start
URL's own host in the Host header) instead of the start URL's host: the tests' way to serve a vanity URL. Nothing
else reads it, and without it the request goes to the real host over verified HTTPS.
"""

from __future__ import annotations

import os
import re
from urllib.parse import urljoin, urlsplit, urlunsplit

from tray.core.errors import AwsError, ConfigError

PROBE_VARIABLE = "SSO_TRAY_START_URL_PROBE"
PROBE_TIMEOUT = 10.0  # seconds, as the AWS CLI's default

_AWS_OWNED_SUFFIXES = (
    ".app.aws",
    ".portal.amazonaws.com",
    ".portal.amazonaws.com.cn",
    ".app.amazonwebservices.com.cn",
    ".portal.amazonaws.eu",
    ".api.amazonwebservices.eu",
    ".awsapps.com",
    ".awsapps.cn",
)
_AWS_OWNED_HOSTS = (
    "identitycenter.amazonaws.com",
    "identitycenter.amazonaws.com.cn",
    "identitycenter.amazonaws.eu",
    "identitycenter.us-gov.amazonaws.com",
)
_REGION = r"(?P<region>[a-z0-9-]+)"
_REGION_PATTERNS = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        rf"^[^.]+\.portal\.{_REGION}\.app\.aws$",
        rf"^[^.]+\.{_REGION}\.portal\.amazonaws\.com$",
        rf"^[^.]+\.{_REGION}\.portal\.amazonaws\.com\.cn$",
        rf"^[^.]+\.portal\.{_REGION}\.app\.amazonwebservices\.com\.cn$",
        rf"^[^.]+\.{_REGION}\.portal\.amazonaws\.eu$",
        rf"^[^.]+\.portal\.{_REGION}\.api\.amazonwebservices\.eu$",
    )
)
_REDIRECTS = (301, 302, 303, 307, 308)
_SHAPES = "{id}.portal.REGION.app.aws, {id}.REGION.portal.amazonaws.com (.com.cn, .eu)"


def is_aws_owned(host: str) -> bool:
    host = host.lower().rstrip(".")
    return host in _AWS_OWNED_HOSTS or any(host == s[1:] or host.endswith(s) for s in _AWS_OWNED_SUFFIXES)


def region_from_host(host: str) -> str | None:
    """The region an AWS-owned portal host names, or None."""
    host = host.lower().rstrip(".")
    for pattern in _REGION_PATTERNS:
        match = pattern.match(host)
        if match:
            return match.group("region")
    return None


def region_of(start_url: str) -> str | None:
    """The region the start URL's own host names (no network), or None."""
    return region_from_host(urlsplit(start_url).hostname or "")


def problem_without_region(start_url: str) -> str | None:
    """Why a session with this start URL and no `sso_region` cannot be used at all, or None when a sign-in can
    find its region (the host names it, or a vanity URL's redirect may)."""
    host = urlsplit(start_url).hostname or ""
    if is_aws_owned(host) and region_from_host(host) is None:
        return f"missing key sso_region ({host} does not name its region: add sso_region = REGION)"
    return None


def configured_region(start_url: str, region: str | None) -> str | None:
    """The region `configure` writes: the one given, else the one the host names, else None for a vanity URL
    (its sign-in finds it); ConfigError for an AWS-owned host that names none."""
    if region:
        return region
    problem = problem_without_region(start_url)
    if problem:
        raise ConfigError(f"{start_url}: {problem.replace('add sso_region = REGION', 'give its region (--region R)')}")
    return region_of(start_url)


def resolve(start_url: str, configured_region: str | None = None, timeout: float = PROBE_TIMEOUT) -> tuple[str, str]:
    """(the URL to give the OIDC API as the issuer, the region) for a start URL.

    A configured region is used as it is, with no request. Otherwise the region comes from the host, or from
    where one redirect of a vanity URL lands (ConfigError when it cannot be found, naming what was tried;
    AwsError when the start URL cannot be reached)."""
    if configured_region:
        return start_url, configured_region
    host = urlsplit(start_url).hostname or ""
    if is_aws_owned(host):
        region = region_from_host(host)
        if region is None:
            raise ConfigError(f"{start_url}: {problem_without_region(start_url)}")
        return start_url, region
    landed = _normalized(follow_one_redirect(start_url, timeout))
    parts = urlsplit(landed)
    tried = f"no sso_region is configured, and {start_url} redirects to {landed}"
    if landed == _normalized(start_url):
        raise ConfigError(f"{start_url}: no sso_region is configured, and the start URL does not redirect to an AWS"
                          f" portal ({_SHAPES}) that names it: add sso_region = REGION")
    if not is_aws_owned(parts.hostname or ""):
        raise ConfigError(f"{start_url}: {tried}, which is not an AWS-owned portal: add sso_region = REGION")
    if parts.scheme != "https":
        raise ConfigError(f"{start_url}: {tried}, which is not https")
    region = region_from_host(parts.hostname or "")
    if region is None:
        raise ConfigError(f"{start_url}: {tried}, whose host does not name its region: add sso_region = REGION")
    return landed, region


def follow_one_redirect(url: str, timeout: float = PROBE_TIMEOUT) -> str:
    """Where `url` redirects to (its own URL when it does not): HEAD, then GET when HEAD is not allowed."""
    import urllib.error  # here: reading a config (every `export`) must not load urllib's HTTP machinery

    try:
        return _ask(url, "HEAD", timeout)
    except urllib.error.HTTPError as e:
        if e.code not in (405, 501):
            raise _unreachable(url, f"HEAD answered HTTP {e.code}") from None
    try:
        return _ask(url, "GET", timeout)
    except urllib.error.HTTPError as e:
        raise _unreachable(url, f"HEAD was refused and GET answered HTTP {e.code}") from None


def _ask(url: str, method: str, timeout: float) -> str:
    """`url` itself when the answer is not a redirect, else the redirect's absolute target."""
    import urllib.error
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):  # a redirect is read, never followed
            return None

    request = urllib.request.Request(url, method=method)
    override = os.environ.get(PROBE_VARIABLE)
    handlers: list = [NoRedirect()]
    if override:
        parts = urlsplit(url)
        request = urllib.request.Request(override.rstrip("/") + urlunsplit(("", "", parts.path or "/", parts.query, "")), method=method)
        request.add_header("Host", parts.netloc)
    else:
        import ssl

        handlers.append(urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=_ca_bundle())))
    opener = urllib.request.build_opener(*handlers)
    try:
        opener.open(request, timeout=timeout).close()
        return url
    except urllib.error.HTTPError as e:
        if e.code not in _REDIRECTS:
            raise
        location = e.headers.get("Location")
        if not location:
            raise _unreachable(url, f"{method} answered HTTP {e.code} with no Location") from None
        return urljoin(url, location)
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", None) or e
        raise _unreachable(url, f"{method} failed: {reason}") from None


def _ca_bundle() -> str | None:
    """The CA bundle botocore verifies AWS with (AWS_CA_BUNDLE, else the one it ships with)."""
    from botocore.httpsession import get_cert_path

    return os.environ.get("AWS_CA_BUNDLE") or get_cert_path(True)


def _unreachable(url: str, what: str) -> AwsError:
    return AwsError(f"finding the region of {url} (no sso_region is configured): {what}")


def _normalized(url: str) -> str:
    """As the AWS CLI compares and passes on the landing URL: no default port, no trailing slash, no query."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port and parts.port != {"https": 443, "http": 80}.get(parts.scheme):
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
