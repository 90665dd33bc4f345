"""`aws login` sessions (login_session profiles): signed in by sso-tray or by the AWS CLI's cache, refreshed through
botocore's own provider against the simulator's sign-in service (DPoP checked), handed out like SSO roles."""

import base64
import hashlib
import json
import os
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from conftest import BROWSERS, aws_cli, botocore_credentials, run_cli, standard_config, write_config

ARN = "arn:aws:iam::111122223333:user/alice"
SAME_DEVICE = "arn:aws:signin:::devtools/same-device"


def cache_path(home: Path, arn: str = ARN) -> Path:
    return home / ".aws" / "login" / "cache" / f"{hashlib.sha256(arn.encode()).hexdigest()}.json"


@pytest.fixture
def login_env(home, simulator, monkeypatch):
    """The standard SSO config plus `[profile me]` of `aws login`; every endpoint at the simulator."""
    write_config(home, standard_config(simulator) + f"\n[profile me]\nlogin_session = {ARN}\nregion = eu-west-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / ".aws" / "config"))
    for service in ("SSO", "SSO_OIDC", "SIGNIN"):
        monkeypatch.setenv(f"AWS_ENDPOINT_URL_{service}", simulator.url)
    monkeypatch.setenv("BROWSER", f"{sys.executable} {BROWSERS / 'fetch.py'} %s")
    return simulator


def _no_redirect_opener():
    class Keep(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None
    return urllib.request.build_opener(Keep)


def cli_style_sign_in(sim, home, expires_at: datetime) -> dict:
    """What `aws login` does, step by step with awscrt and botocore (not sso-tray): PKCE at /v1/authorize, the code
    exchanged with botocore's DPoP signer, the cache saved by botocore's own LoginTokenLoader in the CLI's format."""
    from awscrt.crypto import EC, ECExportFormat, ECType
    from botocore.credentials import _build_add_dpop_header_handler
    from botocore.session import Session
    from botocore.utils import JSONFileCache, LoginTokenLoader
    import botocore

    key = EC.new_generate(ECType.P_256)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode()[:-1]
    redirect = "http://127.0.0.1:9/oauth/callback"
    query = urlencode({"response_type": "code", "client_id": SAME_DEVICE, "state": "s1", "code_challenge_method": "SHA-256",
                       "scope": "openid", "redirect_uri": redirect})
    try:
        _no_redirect_opener().open(f"{sim.url}/v1/authorize?{query}&code_challenge={challenge}")
        raise AssertionError("no redirect")
    except urllib.error.HTTPError as e:
        code = parse_qs(urlsplit(e.headers["Location"]).query)["code"][0]
    client = Session().create_client("signin", region_name="eu-west-1", endpoint_url=sim.url,
                                     config=botocore.config.Config(signature_version=botocore.UNSIGNED))
    client.meta.events.register("before-call.signin.CreateOAuth2Token", _build_add_dpop_header_handler(key))
    out = client.create_o_auth2_token(tokenInput={"clientId": SAME_DEVICE, "grantType": "authorization_code", "code": code,
                                                  "codeVerifier": verifier, "redirectUri": redirect})["tokenOutput"]
    pem = base64.b64encode(key.export_key(ECExportFormat.SEC1)).decode()
    token = {
        "accessToken": {**out["accessToken"], "accountId": "111122223333", "expiresAt": expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")},
        "tokenType": out["tokenType"], "clientId": SAME_DEVICE, "refreshToken": out["refreshToken"], "idToken": out["idToken"],
        "dpopKey": "-----BEGIN EC PRIVATE KEY-----\n" + "\n".join(pem[i:i + 64] for i in range(0, len(pem), 64)) + "\n-----END EC PRIVATE KEY-----\n",
    }
    LoginTokenLoader(JSONFileCache(str(cache_path(home).parent))).save_token(ARN, token)
    return token


def _secrets(body: dict) -> list[str]:
    return [body["refreshToken"], body["accessToken"]["secretAccessKey"], body["accessToken"]["sessionToken"], body["dpopKey"].splitlines()[1]]


def test_signed_in_by_sso_tray_used_by_botocore_and_the_aws_cli(login_env, home, moto_sts, tmp_path):
    signed_out = run_cli("status", "me")
    assert signed_out.returncode == 3 and "me — signed out" in signed_out.stdout
    result = run_cli("login", "--profile", "me")
    assert result.returncode == 0, result.stderr
    path = cache_path(home)
    body = json.loads(path.read_text(encoding="utf-8"))
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert set(body) == {"accessToken", "tokenType", "clientId", "refreshToken", "idToken", "dpopKey"}
    assert set(body["accessToken"]) == {"accessKeyId", "secretAccessKey", "sessionToken", "accountId", "expiresAt"}
    assert body["accessToken"]["accountId"] == "111122223333" and body["clientId"] == SAME_DEVICE
    assert body["dpopKey"].startswith("-----BEGIN EC PRIVATE KEY-----\n")
    for secret in _secrets(body):
        assert secret not in result.stdout + result.stderr
    # botocore's own LoginProvider reads what sso-tray wrote
    assert botocore_credentials("me")["access_key"] == body["accessToken"]["accessKeyId"]
    assert login_env.signin.issued(body["accessToken"]["accessKeyId"])
    # and so does the AWS CLI (v1, on the same botocore), calling STS with them
    env = {**os.environ, "AWS_ENDPOINT_URL_STS": moto_sts}
    sts = subprocess.run([str(aws_cli()), "sts", "get-caller-identity", "--profile", "me"], env=env, capture_output=True, text=True, timeout=60)
    assert sts.returncode == 0, sts.stderr
    status = json.loads(run_cli("status", "--json").stdout)["sessions"]
    me = next(s for s in status if s["name"] == "me")
    assert (me["kind"], me["status"], me["refreshable"], me["login_session"]) == ("login", "valid", True, ARN)
    assert 0 < me["seconds_left"] <= 900
    text = run_cli("status").stdout
    assert "dev — signed out" in text and "me — " in text and "[aws login, account 111122223333]" in text


def test_cli_cache_refreshed_by_sso_tray_then_read_by_botocore(login_env, home):
    """A cache written as the AWS CLI writes it, expired: sso-tray refreshes it through botocore's provider (one
    CreateOAuth2Token with a DPoP proof; the refresh token rotates), and botocore then adopts the result."""
    old = cli_style_sign_in(login_env, home, datetime.now(timezone.utc) - timedelta(minutes=1))
    before = login_env.calls().get("CreateOAuth2Token", 0)
    export = run_cli("export", "me", "--format", "json")
    assert export.returncode == 0, export.stderr
    handed = json.loads(export.stdout)
    body = json.loads(cache_path(home).read_text(encoding="utf-8"))
    assert login_env.calls()["CreateOAuth2Token"] == before + 1
    assert handed["AccessKeyId"] == body["accessToken"]["accessKeyId"] != old["accessToken"]["accessKeyId"]
    assert body["refreshToken"] != old["refreshToken"] and body["dpopKey"] == old["dpopKey"] and body["idToken"] == old["idToken"]
    assert botocore_credentials("me")["access_key"] == handed["AccessKeyId"]
    assert login_env.calls()["CreateOAuth2Token"] == before + 1  # botocore adopted it: no second refresh
    # the spent refresh token is refused: a copy of the old file cannot refresh again
    cache_path(home).write_text(json.dumps(old), encoding="utf-8")
    again = run_cli("export", "me")
    assert again.returncode == 3 and again.stderr.count("\n") == 1 and "sso-tray login --profile me" in again.stderr
    assert login_env.signin.refusals[-1].startswith("the refresh token is not valid")


def _post_token(sim, proof: str | None, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(f"{sim.url}/v1/token", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **({"DPoP": proof} if proof else {})})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_forged_or_replayed_dpop_proofs_are_refused(login_env, home):
    from awscrt.crypto import EC, ECType
    from botocore.credentials import _build_dpop_header

    token = cli_style_sign_in(login_env, home, datetime.now(timezone.utc) + timedelta(minutes=15))
    key = EC.new_key_from_der_data(base64.b64decode("".join(token["dpopKey"].splitlines()[1:-1])))  # as botocore loads it
    url = f"{login_env.url}/v1/token"
    grant = {"clientId": SAME_DEVICE, "grantType": "refresh_token", "refreshToken": token["refreshToken"]}
    proof = _build_dpop_header(key, url)
    status, answer = _post_token(login_env, proof, grant)
    assert status == 200, answer
    grant["refreshToken"] = answer["refreshToken"]
    refused = {
        "replayed": proof,
        "no proof": None,
        "another key": _build_dpop_header(EC.new_generate(ECType.P_256), url),
        "another URL": _build_dpop_header(key, url.replace("/v1/token", "/v1/other")),
        "stale": _build_dpop_header(key, url, ts=int(datetime.now(timezone.utc).timestamp()) - 3600),
        "tampered": proof.split(".")[0] + "." + base64.urlsafe_b64encode(json.dumps(
            {"htm": "POST", "htu": url, "iat": int(datetime.now(timezone.utc).timestamp()), "jti": "fresh"}).encode()).decode().rstrip("=")
            + "." + proof.split(".")[2],
    }
    expected = {"replayed": "jti was used before", "no proof": "no DPoP header", "another key": "not signed by the key",
                "another URL": "htu must be", "stale": "iat", "tampered": "signature does not verify"}
    for name, forged in refused.items():
        status, answer = _post_token(login_env, forged, grant)
        assert (status, answer["error"]) == (400, "invalid_request"), name
        assert expected[name] in answer["message"], (name, answer)
    status, answer = _post_token(login_env, _build_dpop_header(key, url), grant)
    assert status == 200, answer  # the refresh token survived the refused attempts


def test_write_and_keep_fresh_refuse_to_hide_a_login_profile(login_env, home):
    assert run_cli("login", "--profile", "me").returncode == 0
    refused = run_cli("write", "me")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "would hide the `aws login` profile me" in refused.stderr
    assert not (home / ".aws" / "credentials").exists()
    assert run_cli("write", "dev-admin", "--as", "me").returncode == 2  # an SSO role's keys under that name: hidden too
    written = run_cli("write", "me", "--as", "me-keys")
    assert written.returncode == 0, written.stderr
    from tray.core.files.credfile import credential_values, write_profile
    from tray.core.credentials import RoleCredentials
    from tray.core.errors import UsageError
    with pytest.raises(UsageError, match="would hide"):  # the tray's keep-fresh writes through the same function
        write_profile(home / ".aws" / "credentials", "me", credential_values(
            RoleCredentials("AKIA", "s", "t", datetime.now(timezone.utc) + timedelta(hours=1)), None))


def test_exec_and_credential_process_hand_out_login_credentials(login_env, home):
    assert run_cli("login", "--profile", "me").returncode == 0
    key = json.loads(cache_path(home).read_text(encoding="utf-8"))["accessToken"]["accessKeyId"]
    process = run_cli("credential-process", "me")
    assert process.returncode == 0 and json.loads(process.stdout)["AccessKeyId"] == key
    shown = run_cli("exec", "me", "--", sys.executable, "-c", "import os; print(os.environ['AWS_ACCESS_KEY_ID'], os.environ['AWS_REGION'])")
    assert shown.returncode == 0 and shown.stdout.split() == [key, "eu-west-1"], shown.stderr
    code = "import boto3; print(boto3.Session().get_credentials().get_frozen_credentials().access_key)"
    served = run_cli("exec", "me", "--server", "--", sys.executable, "-c", code)
    assert served.returncode == 0 and served.stdout.strip() == key, served.stderr


def test_remote_sign_in_pastes_the_code_the_page_shows(login_env, home):
    proc = subprocess.Popen([sys.executable, "-m", "tray", "login", "--profile", "me", "--remote"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = None
        while url is None:
            line = proc.stderr.readline()
            assert line, "the sign-in ended before showing its URL"
            if line.startswith("http"):
                url = line.strip()
        page = urllib.request.urlopen(url, timeout=30).read().decode()
        code = page.split('id="verification-code">')[1].split("<")[0]
        out, err = proc.communicate(code + "\n", timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Signed in as arn:aws:iam::111122223333:user/alice" in out
    assert json.loads(cache_path(home).read_text(encoding="utf-8"))["clientId"] == "arn:aws:signin:::devtools/cross-device"


def test_logout_removes_the_cached_login(login_env, home):
    assert run_cli("login", "--profile", "me").returncode == 0
    result = run_cli("logout", "--profile", "me")
    assert result.returncode == 0 and not cache_path(home).exists()
    assert run_cli("export", "me").returncode == 3
    assert run_cli("logout", "--profile", "me").stdout.strip() == "me was not signed in."


def test_older_botocore_or_no_awscrt_fails_only_the_refresh_in_one_line(login_env, home, monkeypatch):
    """botocore before 1.41 has no LoginCredentialFetcher, and its DPoP signer needs awscrt: the status still reads
    the cache; a refresh or sign-in says what is missing."""
    import botocore.credentials

    from tray.core.errors import AwsError
    from tray.core.identity import login
    from tray.core.identity.config import AwsConfig

    cli_style_sign_in(login_env, home, datetime.now(timezone.utc) - timedelta(minutes=1))
    profile = AwsConfig.load().logins["me"]
    with monkeypatch.context() as older:
        older.delattr(botocore.credentials, "LoginCredentialFetcher")
        with pytest.raises(AwsError, match=r"need botocore 1.41 or newer with awscrt.*\(this is botocore "):
            login.renew(profile)
        status, _ = login.login_status(profile)
        assert status.state == "expired" and "could not renew" in status.problem
    with monkeypatch.context() as no_crt:
        no_crt.setitem(sys.modules, "awscrt.crypto", None)
        with pytest.raises(AwsError, match=r"awscrt is not installed"):
            login.sign_in(profile)


def test_prompt_and_completion_know_login_profiles(login_env, home):
    env = {**os.environ, "AWS_PROFILE": "me"}
    assert run_cli("prompt", env=env).stdout == "me signed out\n"
    assert run_cli("login", "--profile", "me").returncode == 0
    shown = run_cli("prompt", env=env).stdout.split()
    assert shown[0] == "me" and shown[1] in ("15m", "14m")
    assert "me" in run_cli("__complete", "profiles").stdout.split()


def test_a_refresh_by_botocore_is_adopted_by_sso_tray(login_env, home):
    cli_style_sign_in(login_env, home, datetime.now(timezone.utc) - timedelta(minutes=1))
    before = login_env.calls().get("CreateOAuth2Token", 0)
    refreshed = botocore_credentials("me")["access_key"]  # botocore's LoginProvider refreshes the expired file
    assert login_env.calls()["CreateOAuth2Token"] == before + 1
    export = run_cli("export", "me", "--format", "json")
    assert export.returncode == 0 and json.loads(export.stdout)["AccessKeyId"] == refreshed
    assert login_env.calls()["CreateOAuth2Token"] == before + 1  # taken from the file: no refresh of its own


def test_a_refresh_that_cannot_reach_the_sign_in_service_is_a_network_error(login_env, home, monkeypatch):
    cli_style_sign_in(login_env, home, datetime.now(timezone.utc) - timedelta(minutes=1))
    login_env.stop()
    result = run_cli("export", "me")
    assert result.returncode == 4 and result.stderr.count("\n") == 1 and "cannot reach" in result.stderr, result.stderr
