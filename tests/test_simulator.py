"""The Identity Center simulator, driven by real boto3 clients and plain HTTP."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import boto3
import botocore.credentials
import botocore.exceptions
import botocore.tokens
import pytest
from botocore.config import Config

from tray.simulator import Simulator, SimulatorOptions
from tray.simulator.options import apply_patch

REPO = Path(__file__).resolve().parent.parent
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
START_URL = "https://d-1234567890.awsapps.com/start"
CALLBACK = "http://127.0.0.1/oauth/callback"


# -- fixtures and helpers ------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_real_aws(tmp_path, monkeypatch):
    """No test may read or touch a real ~/.aws."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SSO",
                 "AWS_ENDPOINT_URL_SSO_OIDC"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sim():
    with Simulator(SimulatorOptions()) as running:
        yield running


class Api:
    """boto3 clients for one simulator, with retries off so every error is seen.

    (botocore's ``max_attempts`` counts retries, not attempts: ``{"max_attempts": 1}`` still retries
    once. ``total_max_attempts`` counts the first attempt too.)
    """

    def __init__(self, sim: Simulator, **config) -> None:
        session = boto3.session.Session(aws_access_key_id="dummy", aws_secret_access_key="dummy",
                                        region_name="us-east-1")
        cfg = Config(retries={"total_max_attempts": 1}, **config)
        self.oidc = session.client("sso-oidc", endpoint_url=sim.url, config=cfg)
        self.sso = session.client("sso", endpoint_url=sim.url, config=cfg)

    def register_device_client(self, grants=(DEVICE_GRANT, "refresh_token")) -> dict:
        kwargs = {"grantTypes": list(grants)} if grants is not None else {}
        return self.oidc.register_client(clientName="sso-tray-test", clientType="public",
                                         scopes=["sso:account:access"], **kwargs)

    def register_pkce_client(self) -> dict:
        # As the AWS CLI v2 registers for `aws sso login` with an sso-session.
        return self.oidc.register_client(
            clientName="botocore-client-test", clientType="public",
            grantTypes=["authorization_code", "refresh_token"], redirectUris=[CALLBACK],
            issuerUrl=START_URL, scopes=["sso:account:access"])

    def start_device(self, client: dict) -> dict:
        return self.oidc.start_device_authorization(clientId=client["clientId"],
                                                    clientSecret=client["clientSecret"], startUrl=START_URL)

    def poll(self, client: dict, device: dict) -> dict:
        return self.oidc.create_token(clientId=client["clientId"], clientSecret=client["clientSecret"],
                                      grantType=DEVICE_GRANT, deviceCode=device["deviceCode"])

    def refresh(self, client: dict, refresh_token: str) -> dict:
        return self.oidc.create_token(clientId=client["clientId"], clientSecret=client["clientSecret"],
                                      grantType="refresh_token", refreshToken=refresh_token)

    def signed_in(self, sim: Simulator) -> tuple[dict, dict]:
        """A device-flow client and its token, approved through the Python API."""
        client = self.register_device_client()
        device = self.start_device(client)
        assert sim.approve_device(device["userCode"])
        return client, self.poll(client, device)


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def status_of(excinfo) -> int:
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def http(method: str, url: str, form: dict | None = None, body: bytes | None = None):
    """(status, headers, text) without following redirects."""
    data = urllib.parse.urlencode(form).encode() if form is not None else body
    request = urllib.request.Request(url, data=data, method=method)
    if form is not None:
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with _opener.open(request, timeout=10) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read().decode()


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_url(sim: Simulator, client: dict, redirect_uri: str, challenge: str, state: str) -> str:
    query = urllib.parse.urlencode({
        "response_type": "code", "client_id": client["clientId"], "redirect_uri": redirect_uri,
        "state": state, "code_challenge_method": "S256", "scopes": "sso:account:access",
        "code_challenge": challenge})
    return f"{sim.url}/authorize?{query}"


def browser_answers(sim: Simulator, url: str, action: str) -> dict:
    """Open the consent page, press a button; returns the callback's query parameters."""
    status, _, page = http("GET", url)
    assert status == 200
    request_id = re.search(r'name="request_id" value="([^"]+)"', page).group(1)
    status, headers, _ = http("POST", f"{sim.url}/authorize", form={"request_id": request_id, "action": action})
    assert status == 302
    location = headers["Location"]
    assert location.startswith("http://127.0.0.1:4711/oauth/callback?")
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


def pkce_sign_in(sim: Simulator, api: Api) -> tuple[dict, dict]:
    client = api.register_pkce_client()
    verifier, challenge = pkce_pair()
    redirect = "http://127.0.0.1:4711/oauth/callback"
    answer = browser_answers(sim, authorize_url(sim, client, redirect, challenge, "st"), "allow")
    token = api.oidc.create_token(clientId=client["clientId"], clientSecret=client["clientSecret"],
                                  grantType="authorization_code", code=answer["code"],
                                  redirectUri=redirect, codeVerifier=verifier)
    return client, token


# -- RegisterClient ----------------------------------------------------------------------------------


def test_register_client_answers_the_model_fields(sim):
    api = Api(sim)
    before = int(time.time())
    client = api.register_pkce_client()
    assert set(client) - {"ResponseMetadata"} == {"clientId", "clientSecret", "clientIdIssuedAt",
                                                   "clientSecretExpiresAt"}
    assert before - 1 <= client["clientIdIssuedAt"] <= time.time() + 1  # epoch seconds
    assert client["clientSecretExpiresAt"] - client["clientIdIssuedAt"] == 90 * 86400
    with pytest.raises(botocore.exceptions.ClientError) as bad_type:
        api.oidc.register_client(clientName="x", clientType="confidential")
    assert error_code(bad_type) == "InvalidClientMetadataException"
    with pytest.raises(botocore.exceptions.ClientError) as bad_grant:
        api.oidc.register_client(clientName="x", clientType="public", grantTypes=["password"])
    assert error_code(bad_grant) == "UnsupportedGrantTypeException"


def test_unknown_client_secret_is_invalid_client(sim):
    api = Api(sim)
    client = api.register_device_client()
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        api.start_device({**client, "clientSecret": "wrong"})
    assert error_code(caught) == "InvalidClientException"
    assert status_of(caught) == 401
    assert caught.value.response["error"] == "invalid_client"  # the OAuth body is parsed too
    sim.advance_time(client["clientSecretExpiresAt"] - time.time() + 1)
    with pytest.raises(botocore.exceptions.ClientError) as expired:
        api.start_device(client)
    assert error_code(expired) == "InvalidClientException"


def test_register_client_checks_redirect_uris(sim):
    api = Api(sim)
    for uris in ([], ["not a uri"], ["http://127.0.0.1:bad/cb"]):
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            api.oidc.register_client(clientName="x", clientType="public", issuerUrl=START_URL,
                                     grantTypes=["authorization_code"], redirectUris=uris)
        assert error_code(caught) == "InvalidRedirectUriException"


# -- device authorization ---------------------------------------------------------------------------


def test_device_flow_pending_slow_down_then_approved(sim):
    api = Api(sim)
    client = api.register_device_client()
    device = api.start_device(client)
    assert re.fullmatch(r"[A-Z]{4}-[A-Z]{4}", device["userCode"])
    assert device["verificationUri"] == f"{sim.url}/device"
    assert device["verificationUriComplete"] == f"{sim.url}/device?user_code={device['userCode']}"
    assert (device["expiresIn"], device["interval"]) == (600, 1)
    assert sim.pending_device_codes() == [device["userCode"]]

    with pytest.raises(botocore.exceptions.ClientError) as pending:
        api.poll(client, device)
    assert error_code(pending) == "AuthorizationPendingException"
    assert pending.value.response["error"] == "authorization_pending"
    with pytest.raises(botocore.exceptions.ClientError) as too_fast:
        api.poll(client, device)
    assert error_code(too_fast) == "SlowDownException"

    assert sim.approve_device(device["userCode"].lower().replace("-", ""))  # as a person might type it
    assert sim.pending_device_codes() == []
    time.sleep(device["interval"] + 0.05)
    token = api.poll(client, device)
    assert token["tokenType"] == "Bearer"
    assert token["expiresIn"] == 28800
    assert token["accessToken"] and token["refreshToken"]
    assert api.sso.list_accounts(accessToken=token["accessToken"])["accountList"]
    with pytest.raises(botocore.exceptions.ClientError) as reused:
        api.poll(client, device)
    assert error_code(reused) == "InvalidGrantException"


def test_device_flow_denied_on_the_verification_page(sim):
    api = Api(sim)
    client = api.register_device_client()
    device = api.start_device(client)
    status, _, page = http("GET", device["verificationUriComplete"])
    assert status == 200
    assert device["userCode"] in page and "sso-tray-test" in page
    assert re.search(r'<button[^>]*id="allow"[^>]*>Allow</button>', page)
    assert re.search(r'<button[^>]*id="deny"[^>]*>Deny</button>', page)
    status, _, page = http("POST", f"{sim.url}/device", form={"user_code": device["userCode"], "action": "deny"})
    assert status == 200 and "close this window" in page
    with pytest.raises(botocore.exceptions.ClientError) as denied:
        api.poll(client, device)
    assert error_code(denied) == "AccessDeniedException"
    assert denied.value.response["error"] == "access_denied"


def test_device_page_allows_and_rejects_unknown_codes(sim):
    api = Api(sim)
    client = api.register_device_client()
    device = api.start_device(client)
    status, _, page = http("POST", f"{sim.url}/device", form={"user_code": "BCDF-GHJK", "action": "allow"})
    assert status == 400 and "not valid" in page
    status, _, page = http("POST", f"{sim.url}/device", form={"user_code": device["userCode"], "action": "allow"})
    assert status == 200 and "approved" in page.lower()
    assert api.poll(client, device)["accessToken"]


def test_device_code_expires(sim):
    sim.options.device_code_lifetime = 0
    api = Api(sim)
    client = api.register_device_client()
    device = api.start_device(client)
    with pytest.raises(botocore.exceptions.ClientError) as expired:
        api.poll(client, device)
    assert error_code(expired) == "ExpiredTokenException"
    assert expired.value.response["error"] == "expired_token"
    assert not sim.approve_device(device["userCode"])


def test_auto_approve_device(sim):
    sim.options.auto_approve = True
    api = Api(sim)
    client = api.register_device_client()
    assert api.poll(client, api.start_device(client))["accessToken"]


def test_device_grant_needs_a_client_registered_for_it(sim):
    api = Api(sim)
    client = api.register_pkce_client()
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        api.start_device(client)
    assert error_code(caught) == "UnauthorizedClientException"


# -- authorization code with PKCE ----------------------------------------------------------------------


def test_pkce_flow_over_http(sim):
    api = Api(sim)
    client = api.register_pkce_client()
    verifier, challenge = pkce_pair()
    redirect = "http://127.0.0.1:4711/oauth/callback"  # any port on the registered loopback URI
    url = authorize_url(sim, client, redirect, challenge, "state-123")

    status, _, page = http("GET", url)
    assert status == 200
    assert re.search(r'<button[^>]*id="allow"[^>]*>Allow</button>', page)
    assert re.search(r'<button[^>]*id="deny"[^>]*>Deny</button>', page)
    assert "botocore-client-test" in page
    assert not re.search(r"""(src|href|action)=["']?(https?:)?//""", page)  # nothing loaded from elsewhere
    [seen] = sim.authorize_requests()
    assert seen["client_id"] == client["clientId"] and seen["redirect_uri"] == redirect

    answer = browser_answers(sim, url, "allow")
    assert answer["state"] == "state-123" and answer["code"]
    assert len(sim.authorize_requests()) == 2
    token = api.oidc.create_token(clientId=client["clientId"], clientSecret=client["clientSecret"],
                                  grantType="authorization_code", code=answer["code"],
                                  redirectUri=redirect, codeVerifier=verifier)
    assert token["tokenType"] == "Bearer" and token["refreshToken"]
    assert api.sso.list_accounts(accessToken=token["accessToken"])["accountList"]
    with pytest.raises(botocore.exceptions.ClientError) as reused:
        api.oidc.create_token(clientId=client["clientId"], clientSecret=client["clientSecret"],
                              grantType="authorization_code", code=answer["code"],
                              redirectUri=redirect, codeVerifier=verifier)
    assert error_code(reused) == "InvalidGrantException"


@pytest.mark.parametrize("mistake", ["verifier", "redirect", "client"])
def test_pkce_code_checks(sim, mistake):
    api = Api(sim)
    client = api.register_pkce_client()
    other = api.register_pkce_client()
    verifier, challenge = pkce_pair()
    redirect = "http://127.0.0.1:4711/oauth/callback"
    answer = browser_answers(sim, authorize_url(sim, client, redirect, challenge, "s"), "allow")
    redeem = {"clientId": client["clientId"], "clientSecret": client["clientSecret"],
              "grantType": "authorization_code", "code": answer["code"], "redirectUri": redirect,
              "codeVerifier": verifier}
    if mistake == "verifier":
        redeem["codeVerifier"] = pkce_pair()[0]
    elif mistake == "redirect":
        redeem["redirectUri"] = "http://127.0.0.1:4712/oauth/callback"
    else:
        redeem.update(clientId=other["clientId"], clientSecret=other["clientSecret"])
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        api.oidc.create_token(**redeem)
    assert error_code(caught) == "InvalidGrantException"
    assert caught.value.response["error"] == "invalid_grant"


def test_pkce_denied_redirects_with_access_denied(sim):
    api = Api(sim)
    client = api.register_pkce_client()
    _, challenge = pkce_pair()
    answer = browser_answers(
        sim, authorize_url(sim, client, "http://127.0.0.1:4711/oauth/callback", challenge, "xyz"), "deny")
    assert answer["error"] == "access_denied" and answer["state"] == "xyz"
    assert answer["error_description"] and "code" not in answer


def test_authorize_refuses_unknown_clients_and_redirects_without_redirecting(sim):
    api = Api(sim)
    client = api.register_pkce_client()
    _, challenge = pkce_pair()
    for url in (
        authorize_url(sim, {"clientId": "nope"}, "http://127.0.0.1:4711/oauth/callback", challenge, "s"),
        authorize_url(sim, client, "http://evil.example/oauth/callback", challenge, "s"),
        authorize_url(sim, client, "http://127.0.0.1:4711/elsewhere", challenge, "s"),
    ):
        status, headers, page = http("GET", url)
        assert status == 400 and "Location" not in headers
        assert "Allow" not in page


def test_authorize_auto_approve_redirects_at_once(sim):
    sim.options.auto_approve = True
    api = Api(sim)
    client = api.register_pkce_client()
    verifier, challenge = pkce_pair()
    redirect = "http://127.0.0.1:5000/oauth/callback"
    status, headers, _ = http("GET", authorize_url(sim, client, redirect, challenge, "s1"))
    assert status == 302
    answer = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(headers["Location"]).query))
    token = api.oidc.create_token(clientId=client["clientId"], clientSecret=client["clientSecret"],
                                  grantType="authorization_code", code=answer["code"],
                                  redirectUri=redirect, codeVerifier=verifier)
    assert token["accessToken"]


# -- refresh tokens --------------------------------------------------------------------------------------


def test_refresh_token_grant(sim):
    api = Api(sim)
    client, first = pkce_sign_in(sim, api)
    second = api.refresh(client, first["refreshToken"])
    assert second["accessToken"] != first["accessToken"]
    assert second["refreshToken"] and second["refreshToken"] != first["refreshToken"]
    assert api.sso.list_accounts(accessToken=second["accessToken"])["accountList"]
    assert api.refresh(client, first["refreshToken"])["accessToken"]  # no rotation by default

    sim.options.rotate_refresh_tokens = True
    third = api.refresh(client, second["refreshToken"])
    with pytest.raises(botocore.exceptions.ClientError) as rotated:
        api.refresh(client, second["refreshToken"])
    assert error_code(rotated) == "InvalidGrantException"
    assert api.refresh(client, third["refreshToken"])["accessToken"]


def test_refresh_tokens_end_with_the_session(sim):
    sim.options.session_lifetime = 3600
    api = Api(sim)
    client, token = api.signed_in(sim)
    assert token["expiresIn"] == 3600  # never beyond the session
    sim.advance_time(3601)
    with pytest.raises(botocore.exceptions.ClientError) as ended:
        api.refresh(client, token["refreshToken"])
    assert error_code(ended) == "InvalidGrantException"
    with pytest.raises(botocore.exceptions.ClientError) as expired:
        api.sso.list_accounts(accessToken=token["accessToken"])
    assert error_code(expired) == "UnauthorizedException"


def test_no_refresh_token_when_option_off_or_client_not_registered_for_it(sim):
    api = Api(sim)
    sim.options.refresh_tokens = False
    _, token = api.signed_in(sim)
    assert "refreshToken" not in token
    sim.options.refresh_tokens = True
    legacy = api.register_device_client(grants=None)  # clientName and clientType only
    device = api.start_device(legacy)
    sim.approve_device(device["userCode"])
    token = api.poll(legacy, device)
    assert "refreshToken" not in token
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        api.refresh(legacy, "aor-anything")
    assert error_code(caught) == "UnauthorizedClientException"


# -- the portal ------------------------------------------------------------------------------------------


def test_paginators_find_every_account_and_role():
    options = SimulatorOptions(accounts=250, roles_per_account=5)
    with Simulator(options) as sim:
        api = Api(sim)
        _, token = api.signed_in(sim)
        pages = list(api.sso.get_paginator("list_accounts").paginate(accessToken=token["accessToken"]))
        accounts = [a for p in pages for a in p["accountList"]]
        assert len(pages) == 13  # 20 a page unless max_result says otherwise
        assert len({a["accountId"] for a in accounts}) == 250
        assert all(re.fullmatch(r"\d{12}", a["accountId"]) for a in accounts)
        assert [a["accountId"] for a in accounts] == [a["accountId"] for a in sim.accounts()]

        pages = list(api.sso.get_paginator("list_accounts").paginate(
            accessToken=token["accessToken"], PaginationConfig={"PageSize": 100}))
        assert [len(p["accountList"]) for p in pages] == [100, 100, 50]

        account = accounts[7]["accountId"]
        roles = [r for p in api.sso.get_paginator("list_account_roles").paginate(
            accessToken=token["accessToken"], accountId=account, PaginationConfig={"PageSize": 2})
            for r in p["roleList"]]
        assert len(roles) == 5 and all(r["accountId"] == account for r in roles)
        assert sorted(r["roleName"] for r in roles) == sorted(sim.accounts()[7]["roles"])

        with pytest.raises(botocore.exceptions.ClientError) as too_big:
            api.sso.list_accounts(accessToken=token["accessToken"], maxResults=101)
        assert error_code(too_big) == "InvalidRequestException"
        with pytest.raises(botocore.exceptions.ClientError) as bad_token:
            api.sso.list_accounts(accessToken=token["accessToken"], nextToken="garbage")
        assert error_code(bad_token) == "InvalidRequestException"


def test_two_thousand_accounts_are_quick():
    with Simulator(SimulatorOptions(accounts=2000, roles_per_account=3)) as sim:
        api = Api(sim)
        _, token = api.signed_in(sim)
        started = time.monotonic()
        accounts = [a for p in api.sso.get_paginator("list_accounts").paginate(
            accessToken=token["accessToken"], PaginationConfig={"PageSize": 100}) for a in p["accountList"]]
        assert len(accounts) == 2000
        assert time.monotonic() - started < 2.0
        roles = api.sso.list_account_roles(accessToken=token["accessToken"], accountId=accounts[-1]["accountId"])
        assert len(roles["roleList"]) == 3


def test_names_options():
    options = SimulatorOptions(accounts=3, roles_per_account=1, account_names=["alpha", "beta"],
                               role_names=["Dev", "Ops"])
    with Simulator(options) as sim:
        assert [(a["accountName"], a["roles"]) for a in sim.accounts()] == [
            ("alpha", ["Dev"]), ("beta", ["Ops"]), ("staging-2", ["Dev"])]
        sim.options.accounts = 5  # the directory follows the options at run time
        assert len(sim.accounts()) == 5


def test_get_role_credentials(sim):
    api = Api(sim)
    _, token = api.signed_in(sim)
    account = sim.accounts()[0]
    creds = api.sso.get_role_credentials(accessToken=token["accessToken"], accountId=account["accountId"],
                                         roleName=account["roles"][0])["roleCredentials"]
    assert re.fullmatch(r"ASIA[A-Z0-9]{16}", creds["accessKeyId"])
    assert len(creds["secretAccessKey"]) == 40 and len(creds["sessionToken"]) > 100
    assert abs(creds["expiration"] / 1000 - (time.time() + 3600)) < 5  # epoch milliseconds
    again = api.sso.get_role_credentials(accessToken=token["accessToken"], accountId=account["accountId"],
                                         roleName=account["roles"][0])["roleCredentials"]
    assert again["accessKeyId"] != creds["accessKeyId"]


def test_unassigned_role_or_account_is_forbidden(sim):
    api = Api(sim)
    _, token = api.signed_in(sim)
    account = sim.accounts()[0]
    unassigned = next(r for r in ("AdministratorAccess", "ReadOnlyAccess", "PowerUserAccess", "Billing")
                      if r not in account["roles"])
    for account_id, role in ((account["accountId"], unassigned), ("999999999999", account["roles"][0])):
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            api.sso.get_role_credentials(accessToken=token["accessToken"], accountId=account_id, roleName=role)
        assert error_code(caught) == "ForbiddenException"
        assert status_of(caught) == 403
        assert caught.value.response["Error"]["Message"] == "No access"
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        api.sso.list_account_roles(accessToken=token["accessToken"], accountId="999999999999")
    assert error_code(caught) == "ForbiddenException"


def test_logout_ends_the_session(sim):
    api = Api(sim)
    client, token = api.signed_in(sim)
    api.sso.logout(accessToken=token["accessToken"])
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        api.sso.list_accounts(accessToken=token["accessToken"])
    assert error_code(caught) == "UnauthorizedException"
    assert status_of(caught) == 401
    with pytest.raises(botocore.exceptions.ClientError) as refresh:
        api.refresh(client, token["refreshToken"])
    assert error_code(refresh) == "InvalidGrantException"
    with pytest.raises(botocore.exceptions.ClientError) as again:
        api.sso.logout(accessToken=token["accessToken"])
    assert error_code(again) == "UnauthorizedException"


def test_unknown_expired_and_revoked_tokens_are_unauthorized(sim):
    api = Api(sim)
    with pytest.raises(botocore.exceptions.ClientError) as unknown:
        api.sso.list_accounts(accessToken="aoa-not-a-token")
    assert error_code(unknown) == "UnauthorizedException"

    _, token = api.signed_in(sim)
    sim.revoke_all_tokens()
    with pytest.raises(botocore.exceptions.ClientError) as revoked:
        api.sso.list_accounts(accessToken=token["accessToken"])
    assert error_code(revoked) == "UnauthorizedException"

    _, token = api.signed_in(sim)
    sim.advance_time(28800)
    with pytest.raises(botocore.exceptions.ClientError) as expired:
        api.sso.list_accounts(accessToken=token["accessToken"])
    assert error_code(expired) == "UnauthorizedException"


# -- faults ------------------------------------------------------------------------------------------------


def test_throttle_answers_too_many_requests(sim):
    api = Api(sim)
    client, token = api.signed_in(sim)
    sim.reset_counts()
    sim.options.throttle = 1.0
    with pytest.raises(botocore.exceptions.ClientError) as portal:
        api.sso.list_accounts(accessToken=token["accessToken"])
    assert error_code(portal) == "TooManyRequestsException" and status_of(portal) == 429
    with pytest.raises(botocore.exceptions.ClientError) as oidc:
        api.refresh(client, token["refreshToken"])
    assert error_code(oidc) == "TooManyRequestsException" and status_of(oidc) == 429
    assert sim.throttled() == {"ListAccounts": 1, "CreateToken": 1}
    assert sim.calls() == {"ListAccounts": 1, "CreateToken": 1}

    sim.options.throttle, sim.options.seed = 0.5, 7
    outcomes = []
    for _ in range(40):
        try:
            api.sso.list_accounts(accessToken=token["accessToken"])
            outcomes.append(True)
        except botocore.exceptions.ClientError:
            outcomes.append(False)
    assert 5 < outcomes.count(False) < 35
    sim.options.throttle = 0.0
    assert api.sso.list_accounts(accessToken=token["accessToken"])["accountList"]


def test_botocore_retries_throttling_by_default(sim):
    api = Api(sim)
    _, token = api.signed_in(sim)
    sso = boto3.session.Session(region_name="us-east-1").client("sso", endpoint_url=sim.url)
    sso.list_accounts(accessToken=token["accessToken"])
    sim.reset_counts()
    sim.options.throttle, sim.options.seed = 0.5, 1  # with seed 1: refused, then let through
    assert sso.list_accounts(accessToken=token["accessToken"])["accountList"]
    assert sim.calls() == {"ListAccounts": 2} and sim.throttled() == {"ListAccounts": 1}


def test_rate_limit_is_a_token_bucket_per_caller(sim):
    api = Api(sim)
    _, token = api.signed_in(sim)
    _, other = api.signed_in(sim)
    api.sso.list_accounts(accessToken=token["accessToken"])  # a warm client answers in ~1 ms
    sim.options.rate_limit = 1.0  # one call a second, bursts of one

    def attempt(access_token: str) -> bool:
        try:
            api.sso.list_accounts(accessToken=access_token)
            return True
        except botocore.exceptions.ClientError as error:
            assert error.response["Error"]["Code"] == "TooManyRequestsException"
            return False

    assert [attempt(token["accessToken"]) for _ in range(4)] == [True, False, False, False]
    assert attempt(other["accessToken"])  # another caller has its own bucket
    time.sleep(1.05)
    assert attempt(token["accessToken"])
    assert sim.throttled()["ListAccounts"] == 3


def test_latency_is_added_and_keep_alive_is_fast(sim):
    api = Api(sim)
    _, token = api.signed_in(sim)
    api.sso.list_accounts(accessToken=token["accessToken"])
    started = time.monotonic()
    for _ in range(20):
        api.sso.list_accounts(accessToken=token["accessToken"])
    assert time.monotonic() - started < 0.5  # no 40 ms Nagle stall per call
    sim.options.latency = 0.2
    started = time.monotonic()
    api.sso.list_accounts(accessToken=token["accessToken"])
    assert 0.2 <= time.monotonic() - started < 0.6


def test_many_threads_at_once(sim):
    api = Api(sim, max_pool_connections=20)
    _, token = api.signed_in(sim)
    sim.reset_counts()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(15):
                api.sso.list_accounts(accessToken=token["accessToken"])
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sim.calls() == {"ListAccounts": 240}


def test_stop_cuts_connections_and_start_resumes_on_the_same_port():
    sim = Simulator().start()
    try:
        api = Api(sim)
        _, token = api.signed_in(sim)
        url = sim.url
        sim.stop()
        with pytest.raises(botocore.exceptions.EndpointConnectionError):
            api.sso.list_accounts(accessToken=token["accessToken"])
        sim.start()
        assert sim.url == url
        assert api.sso.list_accounts(accessToken=token["accessToken"])["accountList"]
    finally:
        sim.stop()


# -- control surface, options, CLI, logging ------------------------------------------------------------------


def test_control_endpoints(sim):
    api = Api(sim)
    client = api.register_device_client()
    device = api.start_device(client)
    status, _, text = http("GET", f"{sim.url}/_sim/stats")
    assert status == 200
    assert json.loads(text) == {"calls": {"RegisterClient": 1, "StartDeviceAuthorization": 1},
                                "throttled": {}, "authorize_requests": 0}
    assert json.loads(http("GET", f"{sim.url}/_sim/pending")[2]) == {"user_codes": [device["userCode"]]}
    status, _, _ = http("POST", f"{sim.url}/_sim/approve", body=json.dumps({"user_code": device["userCode"]}).encode())
    assert status == 200
    token = api.poll(client, device)

    status, _, text = http("POST", f"{sim.url}/_sim/options", body=b'{"throttle": 1.0, "latency": 0}')
    assert status == 200 and json.loads(text)["throttle"] == 1.0
    assert sim.options.throttle == 1.0
    with pytest.raises(botocore.exceptions.ClientError):
        api.sso.list_accounts(accessToken=token["accessToken"])
    assert http("POST", f"{sim.url}/_sim/options", body=b'{"nope": 1}')[0] == 400
    assert http("POST", f"{sim.url}/_sim/options", body=b'{"throttle": 2}')[0] == 400
    assert http("POST", f"{sim.url}/_sim/options", body=b'{"throttle": 0}')[0] == 200

    assert http("POST", f"{sim.url}/_sim/reset", body=b"")[0] == 200
    assert json.loads(http("GET", f"{sim.url}/_sim/stats")[2]) == {"calls": {}, "throttled": {},
                                                                    "authorize_requests": 0}
    assert http("POST", f"{sim.url}/_sim/revoke", body=b"")[0] == 200
    with pytest.raises(botocore.exceptions.ClientError) as revoked:
        api.sso.list_accounts(accessToken=token["accessToken"])
    assert error_code(revoked) == "UnauthorizedException"
    assert http("GET", f"{sim.url}/no/such/route")[0] == 404


def test_apply_patch_checks_everything_first():
    options = SimulatorOptions()
    apply_patch(options, {"accounts": 7, "rate_limit": 3, "account_names": ["a"], "auto_approve": True})
    assert (options.accounts, options.rate_limit, options.account_names, options.auto_approve) == (7, 3.0, ["a"], True)
    with pytest.raises(ValueError):
        apply_patch(options, {"accounts": 1, "auto_approve": "yes"})
    assert options.accounts == 7


def test_cli_main_in_a_subprocess(tmp_path):
    stderr_path = tmp_path / "stderr.txt"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from tray.simulator.cli import main; main()",
             "--port", "0", "--accounts", "4", "--auto-approve", "--latency-ms", "1"],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        line = proc.stdout.readline()
        match = re.fullmatch(r"simulator listening on (http://127\.0\.0\.1:(\d+))\n", line)
        assert match, line
        url = match.group(1)
        session = boto3.session.Session(region_name="us-east-1")
        oidc = session.client("sso-oidc", endpoint_url=url)
        sso = session.client("sso", endpoint_url=url)
        client = oidc.register_client(clientName="cli", clientType="public",
                                      grantTypes=[DEVICE_GRANT, "refresh_token"])
        device = oidc.start_device_authorization(clientId=client["clientId"],
                                                 clientSecret=client["clientSecret"], startUrl=START_URL)
        token = oidc.create_token(clientId=client["clientId"], clientSecret=client["clientSecret"],
                                  grantType=DEVICE_GRANT, deviceCode=device["deviceCode"])
        assert len(sso.list_accounts(accessToken=token["accessToken"])["accountList"]) == 4
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    log = stderr_path.read_text(encoding="utf-8")
    assert "POST /token 200 CreateToken" in log and "GET /assignment/accounts 200 ListAccounts" in log
    for secret in (token["accessToken"], token["refreshToken"], client["clientSecret"], device["deviceCode"]):
        assert secret not in log


def test_log_names_operations_but_never_secrets(sim, caplog):
    caplog.set_level(logging.INFO, logger="tray.simulator")
    api = Api(sim)
    client, token = api.signed_in(sim)
    pkce_client, pkce_token = pkce_sign_in(sim, api)
    refreshed = api.refresh(pkce_client, pkce_token["refreshToken"])
    account = sim.accounts()[0]
    creds = api.sso.get_role_credentials(accessToken=token["accessToken"], accountId=account["accountId"],
                                         roleName=account["roles"][0])["roleCredentials"]
    api.sso.logout(accessToken=refreshed["accessToken"])
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "tray.simulator")
    assert "POST /client/register 200 RegisterClient" in text
    assert "GET /authorize 200 AuthorizePage" in text and "POST /authorize 302" in text
    assert "POST /logout 200 Logout" in text
    assert "?" not in text  # no query strings at all
    secrets_seen = [token["accessToken"], token["refreshToken"], client["clientSecret"],
                    pkce_client["clientSecret"], pkce_token["accessToken"], pkce_token["refreshToken"],
                    refreshed["accessToken"], creds["secretAccessKey"], creds["sessionToken"]]
    for secret in secrets_seen:
        assert secret not in text


def test_botocore_sso_provider_reads_a_cached_token_and_refreshes_it(sim, tmp_path, monkeypatch):
    """botocore itself, pointed at the simulator by the AWS_ENDPOINT_URL_SSO* variables."""
    api = Api(sim)
    client, token = pkce_sign_in(sim, api)
    account = sim.accounts()[1]
    (tmp_path / "config").write_text(
        "[profile sim]\n"
        "sso_session = s\n"
        f"sso_account_id = {account['accountId']}\n"
        f"sso_role_name = {account['roles'][0]}\n"
        "region = eu-west-1\n"
        "[sso-session s]\n"
        f"sso_start_url = {START_URL}\n"
        "sso_region = us-east-1\n", encoding="utf-8")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO", sim.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO_OIDC", sim.url)
    cache = tmp_path / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True)
    # botocore fixes its token cache folder from HOME when it is imported: a HOME set later is not
    # enough to keep a test away from the real ~/.aws/sso/cache.
    monkeypatch.setattr(botocore.tokens.SSOTokenProvider, "_SSO_TOKEN_CACHE_DIR", str(cache))
    monkeypatch.setattr(botocore.credentials.SSOProvider, "_SSO_TOKEN_CACHE_DIR", str(cache))
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 300))  # inside botocore's 15 min
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(client["clientSecretExpiresAt"]))
    cache_file = cache / (hashlib.sha1(b"s").hexdigest() + ".json")
    cache_file.write_text(json.dumps({
        "startUrl": START_URL, "region": "us-east-1", "accessToken": token["accessToken"],
        "expiresAt": soon, "clientId": client["clientId"], "clientSecret": client["clientSecret"],
        "registrationExpiresAt": later, "refreshToken": token["refreshToken"]}), encoding="utf-8")
    sim.reset_counts()

    credentials = boto3.session.Session(profile_name="sim").get_credentials().get_frozen_credentials()
    assert credentials.access_key.startswith("ASIA")
    assert sim.calls() == {"CreateToken": 1, "GetRoleCredentials": 1}
    renewed = json.loads(cache_file.read_text(encoding="utf-8"))
    assert renewed["accessToken"] != token["accessToken"] and renewed["refreshToken"]
