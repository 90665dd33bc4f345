"""Smaller interop points with the AWS CLI v2 as it is now: caches read while botocore's own writer rewrites them,
`[services …]` sub-sections kept byte for byte by the config writer, the device code shown and offered to copy."""

import os
import pty
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

from conftest import need_program, write_config
from tray.core.credentials import RoleCredentials, format_time
from tray.core.files import configwrite
from tray.core.identity import login, rolecreds, tokens
from tray.core.identity.config import AwsConfig

SERVICES = """# shared settings
[profile dev]
services = local-stack
region = us-east-1
s3 =
  addressing_style = path
  payload_signing_enabled = true

[services local-stack]
s3 =
  endpoint_url = http://localhost:4566
dynamodb =
    endpoint_url = http://localhost:8000
\t# a comment inside
[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_registration_scopes = sso:account:access
sso_region = eu-west-1

[profile me]
login_session = arn:aws:iam::111122223333:user/alice
sts =
  endpoint_url = http://localhost:4566
"""


def test_config_writer_keeps_services_sub_sections(home, monkeypatch):
    """`aws configure set` writes nested keys and [services …] sections: every edit of ours leaves them as they were."""
    path = write_config(home, SERVICES)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(path))
    configwrite.write_sso_region("corp", "eu-central-1")
    configwrite.write_login_session("me", "arn:aws:iam::111122223333:user/bob")
    configwrite.write_sso_session("https://other.awsapps.com/start", "us-west-2", "other")
    configwrite.write_profiles("corp", [("123456789012", "Prod", "Admin")])
    text = path.read_text(encoding="utf-8")
    expected_head = SERVICES.replace("sso_region = eu-west-1", "sso_region = eu-central-1").replace("user/alice", "user/bob")
    assert text.startswith(expected_head), text
    from botocore.configloader import load_config  # and botocore reads the nested keys as it did
    raw = load_config(str(path))
    assert raw["profiles"]["dev"]["s3"] == {"addressing_style": "path", "payload_signing_enabled": "true"}
    assert raw["services"]["local-stack"]["dynamodb"] == {"endpoint_url": "http://localhost:8000"}
    assert raw["profiles"]["me"]["sts"] == {"endpoint_url": "http://localhost:4566"}


def test_caches_read_while_botocores_own_writer_rewrites_them(home, monkeypatch):
    """botocore (1.42.11+) writes its cache files through a temporary file and a rename; the AWS CLI shares them with
    sso-tray. Readers of all three caches never see a torn or missing file while botocore's JSONFileCache writes."""
    from botocore.utils import JSONFileCache

    path = write_config(home, SERVICES)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(path))
    config = AwsConfig.load()
    session, me = config.sessions["corp"], config.logins["me"]
    expires = datetime.now(timezone.utc) + timedelta(hours=1)
    sso_token = {"startUrl": session.start_url, "region": "eu-west-1", "accessToken": "t" * 2000, "expiresAt": format_time(expires)}
    role = RoleCredentials("ASIAEXAMPLE", "s" * 40, "x" * 3000, expires, "123456789012").to_cli_cache()
    login_token = {"accessToken": {"accessKeyId": "ASIALOGIN", "secretAccessKey": "k" * 40, "sessionToken": "z" * 3000,
                                   "accountId": "111122223333", "expiresAt": format_time(expires)},
                   "tokenType": "aws_sigv4", "clientId": login.SAME_DEVICE, "refreshToken": "r" * 500, "idToken": "a.b.c", "dpopKey": "k"}
    writers = [
        (JSONFileCache(str(session.token_cache_path.parent)), session.cache_key, sso_token),
        (JSONFileCache(str(rolecreds.role_cache_path(session, "123456789012", "Admin").parent)),
         rolecreds.role_cache_path(session, "123456789012", "Admin").stem, role),
        (JSONFileCache(str(me.cache_path.parent)), me.cache_path.stem, login_token),
    ]
    for cache, key, body in writers:
        cache[key] = body
    done = threading.Event()

    def rewrite():
        for n in range(300):
            for cache, key, body in writers:
                cache[key] = {**body, "n": n}
        done.set()

    now = datetime.now(timezone.utc)
    writer = threading.Thread(target=rewrite)
    writer.start()
    reads = 0
    try:
        while not done.is_set() or reads < 300:
            assert tokens.read_token(session).access_token == "t" * 2000
            assert rolecreds.read_cached(session, "123456789012", "Admin", now).access_key_id == "ASIAEXAMPLE"
            assert login.read_token(me).credentials().access_key_id == "ASIALOGIN"
            reads += 1
    finally:
        writer.join()
    assert reads >= 300


def test_device_code_shown_prominently_and_offered_to_copy(sso_env, home, xvfb, tmp_path):
    """`login --device-code`: the code on a line of its own; on a terminal with a clipboard, Enter copies it."""
    need_program("xclip")
    master, slave = pty.openpty()
    err_path = tmp_path / "stderr"
    with open(err_path, "w", encoding="utf-8") as err, open(tmp_path / "stdout", "w", encoding="utf-8") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tray", "login", "--sso-session", "dev", "--device-code", "--no-browser"],
                                stdin=slave, stdout=out, stderr=err, env={**os.environ, "DISPLAY": xvfb})
    os.close(slave)
    try:
        sso_env.options.auto_approve = False
        deadline = time.monotonic() + 60
        while "Press Enter to copy" not in err_path.read_text(encoding="utf-8"):
            assert proc.poll() is None and time.monotonic() < deadline, err_path.read_text(encoding="utf-8")
            time.sleep(0.05)
        lines = err_path.read_text(encoding="utf-8").splitlines()
        code = next(line.strip() for line in lines if line.startswith("    "))
        assert code in sso_env.pending_device_codes()
        os.write(master, b"\n")
        while "Copied the code" not in err_path.read_text(encoding="utf-8"):
            assert proc.poll() is None and time.monotonic() < deadline, err_path.read_text(encoding="utf-8")
            time.sleep(0.05)
        pasted = subprocess.run(["xclip", "-selection", "clipboard", "-o"], capture_output=True, text=True, timeout=10,
                                env={**os.environ, "DISPLAY": xvfb})
        assert pasted.stdout == code
        assert sso_env.approve_device(code)
        assert proc.wait(60) == 0, err_path.read_text(encoding="utf-8")
    finally:
        proc.kill()
        os.close(master)
    assert AwsConfig.load().session("dev").token_cache_path.is_file()
