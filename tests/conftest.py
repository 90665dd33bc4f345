"""Shared fixtures: a throw-away HOME for every test, the Identity Center simulator, a virtual display."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_addoption(parser):
    parser.addoption("--windows", action="store_true",
                     help="run the Windows lane (tests/windows: Windows CPython under Wine); scripts/test --windows")


def pytest_ignore_collect(collection_path, config):
    """tests/windows runs only when asked for (it sets up Wine and a Windows Python)."""
    if collection_path == Path(__file__).resolve().parent / "windows":
        return not config.getoption("windows")
    return None


def need(condition: bool, why: str) -> None:
    """Skip a test whose tools are missing on a developer machine; in CI the same gap is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI is missing a test prerequisite: {why}")
    pytest.skip(why)


def need_program(name: str) -> str:
    path = shutil.which(name)
    need(path is not None, f"{name} is not installed (scripts/bootstrap installs it)")
    return path


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch) -> Path:
    """Every test runs with its own HOME, so nothing can touch a real ~/.aws or ~/.config."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in list(os.environ):
        if var.startswith("AWS_") or var.startswith("XDG_"):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("SSO_TRAY_ROOT", raising=False)  # the demo's root (tray.core.files.paths), if the shell has it
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(home / ".run"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("BROWSER", raising=False)
    return home


@pytest.fixture
def xvfb(monkeypatch):
    """A private X server; DISPLAY points at it for the test and its children. Xvfb picks a free display
    itself (-displayfd): a number chosen here could be taken at the same moment by another test run, whose
    server this test would then use until that run stopped it."""
    need_program("Xvfb")
    read, write = os.pipe()
    try:
        proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(write,))
    finally:
        os.close(write)
    with os.fdopen(read) as f:
        number = f.readline().strip()  # written once the server accepts connections; EOF if it died
    if not number.isdigit():
        proc.kill()
        proc.wait(5)
        pytest.fail("Xvfb did not start")
    display = f":{number}"
    monkeypatch.setenv("DISPLAY", display)
    yield display
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()


def run_cli(*args: str, env: dict | None = None, input: str | None = None, timeout: float = 60, cwd=None):
    """Run `sso-tray ARGS` as a real process (python -m tray), with the test's environment."""
    return subprocess.run(
        [sys.executable, "-m", "tray", *args],
        env=env if env is not None else os.environ.copy(),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


START_URL = "https://example.awsapps.com/start"
BROWSERS = Path(__file__).resolve().parent / "browsers"


@pytest.fixture
def simulator():
    """The project's Identity Center simulator on a free loopback port, over real HTTP."""
    from tray.simulator import Simulator, SimulatorOptions

    sim = Simulator(SimulatorOptions(auto_approve=True, device_interval=1), host="127.0.0.1", port=0).start()
    yield sim
    sim.stop()


def write_config(home: Path, text: str) -> Path:
    path = home / ".aws" / "config"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def standard_config(sim) -> str:
    """One [sso-session dev] with two role profiles, plus a legacy profile on another start URL."""
    return f"""[sso-session dev]
sso_start_url = {START_URL}
sso_region = us-east-1
sso_registration_scopes = sso:account:access

[profile dev-admin]
sso_session = dev
sso_account_id = {sim_account(sim, 0)}
sso_role_name = {sim_role(sim, 0)}
region = eu-west-1

[profile dev-read]
sso_session = dev
sso_account_id = {sim_account(sim, 1)}
sso_role_name = {sim_role(sim, 1)}
"""


def sim_accounts(sim):
    """The simulator's accounts (deterministic from its options): .account_id, .name, .roles."""
    from tray.simulator.directory import Directory

    return Directory(sim.options).accounts


def sim_account(sim, i: int) -> str:
    return sim_accounts(sim)[i].account_id


def sim_role(sim, i: int) -> str:
    return sim_accounts(sim)[i].roles[0]


@pytest.fixture
def sso_env(home, simulator, monkeypatch):
    """HOME with an AWS config for the simulator; endpoints redirected; a fetch-only $BROWSER."""
    write_config(home, standard_config(simulator))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / ".aws" / "config"))
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO", simulator.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO_OIDC", simulator.url)
    monkeypatch.setenv("BROWSER", f"{sys.executable} {BROWSERS / 'fetch.py'} %s")
    return simulator


def botocore_credentials(profile: str, cli_cache: bool = False) -> dict:
    """What botocore's own provider chain gives for `profile`, in a fresh process (botocore fixes its
    cache folders from HOME when it is imported, so it must not be asked inside the test process).
    With `cli_cache`, its SSO provider keeps role credentials in ~/.aws/cli/cache, as the AWS CLI v2 sets it up."""
    code = (
        "import boto3, json, os, sys\n"
        "from botocore.credentials import JSONFileCache\n"
        "s = boto3.Session(profile_name=sys.argv[1])\n"
        "if sys.argv[2] == '1':\n"
        "    provider = s._session.get_component('credential_provider').get_provider('sso')\n"
        "    provider.cache = JSONFileCache(os.path.expanduser('~/.aws/cli/cache'))\n"
        "c = s.get_credentials().get_frozen_credentials()\n"
        "print(json.dumps({'access_key': c.access_key, 'secret_key': c.secret_key, 'token': c.token}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code, profile, "1" if cli_cache else "0"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    return __import__("json").loads(result.stdout)


def aws_cli() -> Path:
    """The AWS CLI (v1, from the test extras): a real client to check files against."""
    aws = Path(sys.executable).parent / "aws"
    return aws if aws.exists() else Path(need_program("aws"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def moto_sts(tmp_path_factory):
    """moto's server on loopback, standing in for STS (`aws sts get-caller-identity`)."""
    exe = Path(sys.executable).parent / "moto_server"
    if not exe.exists():
        exe = Path(need_program("moto_server"))
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "log"
    proc = subprocess.Popen([str(exe), "-H", "127.0.0.1", "-p", str(port)], stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"moto_server did not start: {log.read_text(encoding='utf-8')}")
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
