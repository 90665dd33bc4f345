"""`sso-tray demo`: the whole product with no AWS account.

Starts the built-in Identity Center simulator, makes a throw-away home with an `[sso-session demo]`
and two role profiles, signs in through the real PKCE flow (the simulator approves the first sign-in
by itself), prints the status, then runs the tray against it. Later sign-ins from the menu open the
simulator's Allow/Deny page in your browser. Everything is removed when the demo ends.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import urllib.request
from pathlib import Path

START_URL = "https://demo.awsapps.com/start"


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
    os.environ.update({"AWS_ENDPOINT_URL_SSO": sim.url, "AWS_ENDPOINT_URL_SSO_OIDC": sim.url})
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
        cmd_status(argparse.Namespace(json=False))
        print("\nIn another terminal, the same engine from the command line:")
        print(f"  export SSO_TRAY_ROOT={home} AWS_CONFIG_FILE={os.environ['AWS_CONFIG_FILE']} AWS_ENDPOINT_URL_SSO={sim.url} AWS_ENDPOINT_URL_SSO_OIDC={sim.url}")
        print("  sso-tray profiles; sso-tray export demo-admin --format fish\n")
        sys.stdout.flush()
        if not tray:
            return 0
        from tray.ui.app import run

        return run()
    finally:
        sim.stop()
        shutil.rmtree(home, ignore_errors=True)
