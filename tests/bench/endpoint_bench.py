"""Per-request latency of the credentials endpoints (issue 21): the tray's (tray.ui.terminals: a request goes
through the engine's queue) and `exec --server`'s (its source called directly), each asked the way an SDK asks,
through botocore's own ContainerMetadataFetcher, with credentials the engine holds (the common case: botocore
asks inside 15 minutes of expiry, and a fetch from AWS then adds one GetRoleCredentials call).

    .venv/bin/python tests/bench/endpoint_bench.py [--requests N]

Runs in a throw-away HOME against the built-in simulator; prints the median, 95th percentile and max in ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def measure(fetcher, url: str, token: str, requests: int) -> list[float]:
    fetcher.retrieve_full_uri(url, headers={"Authorization": token})  # the first: connection and imports warm
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        fetcher.retrieve_full_uri(url, headers={"Authorization": token})
        times.append((time.perf_counter() - start) * 1000)
    return times


def summary(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return f"{name:<28} median {statistics.median(ordered):6.2f} ms   p95 {p95:6.2f} ms   max {ordered[-1]:6.2f} ms   ({len(ordered)} requests)"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="sso-tray-endpoint-bench-")
    os.environ.update(HOME=home, XDG_CONFIG_HOME=f"{home}/.config", XDG_CACHE_HOME=f"{home}/.cache", AWS_CONFIG_FILE=f"{home}/.aws/config")
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import standard_config

    from botocore.utils import ContainerMetadataFetcher

    from tray.core.engine.engine import Engine
    from tray.core.identity import rolecreds
    from tray.core.identity.config import AwsConfig
    from tray.core.identity.signin import SignInOptions, login
    from tray.core.outlets.execrun import CredentialServer
    from tray.simulator import Simulator, SimulatorOptions
    from tray.ui.terminals import Terminals

    with Simulator(SimulatorOptions(auto_approve=True), host="127.0.0.1", port=0) as sim:
        Path(home, ".aws").mkdir()
        Path(home, ".aws", "config").write_text(standard_config(sim), encoding="utf-8")
        os.environ.update(AWS_ENDPOINT_URL_SSO=sim.url, AWS_ENDPOINT_URL_SSO_OIDC=sim.url)
        session = AwsConfig.load().session("dev")
        login(session, SignInOptions(opener=lambda url: urllib.request.urlopen(url, timeout=30).read()))
        engine = Engine()
        engine.start()
        deadline = time.monotonic() + 30
        while "dev-admin" not in {r.profile for s in engine.state.sessions for a in s.accounts for r in a.roles}:
            if time.monotonic() > deadline:
                raise SystemExit("the engine did not list the profiles")
            time.sleep(0.05)
        fetcher = ContainerMetadataFetcher()
        tray = Terminals(engine).start()
        try:
            variables = tray.variables_for("dev-admin")
            print(summary("tray endpoint (engine)", measure(fetcher, variables["AWS_CONTAINER_CREDENTIALS_FULL_URI"],
                                                             variables["AWS_CONTAINER_AUTHORIZATION_TOKEN"], args.requests)))
        finally:
            tray.stop()
            engine.stop()
        profile = AwsConfig.load().profiles["dev-admin"]
        with CredentialServer(lambda: rolecreds.get(session, profile.account_id, profile.role_name)) as server:
            print(summary("exec --server endpoint", measure(fetcher, server.url, server.token, args.requests)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
