"""`sso-tray demo`: the whole product with no AWS account.

Starts the built-in Identity Center simulator, makes a throw-away home with an `[sso-session demo]`
and two role profiles, signs in through the real PKCE flow (the simulator approves the first sign-in
by itself), prints the status, then runs the tray against it. Later sign-ins from the menu open the
simulator's Allow/Deny page in your browser. Everything is removed when the demo ends.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import tempfile
import urllib.request
from pathlib import Path

START_URL = "https://demo.awsapps.com/start"
FEDERATION_URL_ENV = "SSO_TRAY_FEDERATION_URL"  # tray.core.outlets.console reads it
# What a second terminal needs to reach this demo: its files (for sso-tray and for the AWS CLI) and its simulator.
SHARED_VARIABLES = ("SSO_TRAY_ROOT", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_ENDPOINT_URL_SSO",
                    "AWS_ENDPOINT_URL_SSO_OIDC", FEDERATION_URL_ENV)


def this_program() -> str:
    """How a shell runs the sso-tray that runs now: the console script beside this Python (a venv's
    `bin/sso-tray`, which need not be on PATH), else `python -m tray`."""
    script = shutil.which("sso-tray", path=str(Path(sys.executable).parent))
    return shlex.quote(script) if script else f"{shlex.quote(sys.executable)} -m tray"


def next_steps() -> str:
    """The lines a person pastes into another terminal while the demo runs (bash, zsh and fish alike)."""
    program = this_program()
    variables = " ".join(f"{name}={shlex.quote(os.environ[name])}" for name in SHARED_VARIABLES)
    return (
        "In another terminal, while this demo runs, the same engine from the command line:\n"
        f"  export {variables}\n"
        f"  {program} profiles\n"
        f"  {program} export demo-admin\n"
        f"  {program} console demo-admin\n"
    )


def prepare(accounts: int) -> tuple[object, Path]:
    """The simulator, running, and a throw-away home (`paths.use_root`) with an AWS config for it."""
    from tray.core.files import paths
    from tray.simulator import Simulator, SimulatorOptions
    from tray.simulator.directory import Directory

    options = SimulatorOptions(accounts=accounts, roles_per_account=3, auto_approve=True)
    sim = Simulator(options).start()
    home = Path(tempfile.mkdtemp(prefix="sso-tray-demo-"))
    # Through the paths module, not HOME/XDG_*: Windows Python and platformdirs ignore those, and the
    # demo would use the real ~/.aws and the real tray's lock.
    paths.use_root(home)
    # the tray's "Open console" signs in at the simulator's federation endpoint, not at AWS
    os.environ.update({"AWS_ENDPOINT_URL_SSO": sim.url, "AWS_ENDPOINT_URL_SSO_OIDC": sim.url, FEDERATION_URL_ENV: f"{sim.url}/federation"})
    first, second = Directory(options).accounts[:2]
    config = paths.aws_config_file()
    config.parent.mkdir(mode=0o700)
    config.write_text(
        f"[sso-session demo]\nsso_start_url = {START_URL}\nsso_region = us-east-1\nsso_registration_scopes = sso:account:access\n\n"
        f"[profile demo-admin]\nsso_session = demo\nsso_account_id = {first.account_id}\nsso_role_name = {first.roles[0]}\nregion = eu-west-1\n\n"
        f"[profile demo-read]\nsso_session = demo\nsso_account_id = {second.account_id}\nsso_role_name = {second.roles[0]}\nregion = us-east-1\n"
    )
    return sim, home


def sign_in(sim) -> None:
    """The real PKCE flow; the 'browser' is a plain GET that follows the simulator's auto-approval."""
    from tray.core.identity.config import AwsConfig
    from tray.core.identity.signin import SignInOptions, login

    login(AwsConfig.load().session("demo"), SignInOptions(opener=lambda url: urllib.request.urlopen(url, timeout=30).read()))
    sim.options.auto_approve = False  # from now on a person clicks Allow in the browser


def main(accounts: int = 25, tray: bool = True) -> int:
    from tray.cli.session import cmd_status

    sim, home = prepare(accounts)
    try:
        sign_in(sim)
        print(f"Demo Identity Center at {sim.url} with {accounts} accounts; throw-away home {home}")
        cmd_status(argparse.Namespace(json=False, target=None, min_remaining=None))
        print()
        print(next_steps(), flush=True)
        if not tray:
            return 0
        from tray.ui.app import run

        return run()
    finally:
        sim.stop()
        shutil.rmtree(home, ignore_errors=True)
