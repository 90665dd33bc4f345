"""sso-tray's benchmarks, side by side with the tools people would use instead.

Run with `scripts/bench` (it installs the measured tools into .venv-bench). Prints one table and saves
artifacts/bench.json. Every figure is a whole process (or, for the menu, a whole build), repeated
after a warm-up, with min–max shown so the machine's noise is visible.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

from harness import Result, machine, repeat, save, table  # noqa: E402

BENCH = ROOT / ".venv-bench" / "bin"  # the measured tools, installed as users install them (scripts/bench)
PY = str(BENCH / "python") if (BENCH / "sso-tray").exists() else sys.executable
SSO_TRAY = [str(BENCH / "sso-tray")] if (BENCH / "sso-tray").exists() else [PY, "-m", "tray"]
START_URL = "https://bench.awsapps.com/start"
LEGACY_URL = "https://bench-legacy.awsapps.com/start"


class World:
    """A throw-away HOME signed in to the simulator (sso-session and, unless `legacy` is False, a legacy
    profile's session on the same directory), as a user would have it."""

    def __init__(self, accounts: int = 300, roles: int = 2, latency: float = 0.0, legacy: bool = True):
        from tray.simulator import Simulator, SimulatorOptions
        from tray.simulator.directory import Directory

        self.sim = Simulator(SimulatorOptions(accounts=accounts, roles_per_account=roles, auto_approve=True, latency=latency)).start()
        self.home = Path(tempfile.mkdtemp(prefix="sso-tray-bench-"))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "XDG_"))}
        self.env.update(HOME=str(self.home), AWS_CONFIG_FILE=str(self.home / ".aws/config"),
                        AWS_ENDPOINT_URL_SSO=self.sim.url, AWS_ENDPOINT_URL_SSO_OIDC=self.sim.url,
                        XDG_CONFIG_HOME=str(self.home / ".config"), XDG_CACHE_HOME=str(self.home / ".cache"),
                        AWS_EC2_METADATA_DISABLED="true")
        first = Directory(self.sim.options).accounts[0]
        self.account, self.role = first.account_id, first.roles[0]
        (self.home / ".aws").mkdir()
        config = (f"[sso-session bench]\nsso_start_url = {START_URL}\nsso_region = us-east-1\n\n"
                  f"[profile p]\nsso_session = bench\nsso_account_id = {self.account}\nsso_role_name = {self.role}\nregion = us-east-1\n")
        if legacy:
            config += (f"\n[profile legacy]\nsso_start_url = {LEGACY_URL}\nsso_region = us-east-1\nsso_account_id = {self.account}\n"
                       f"sso_role_name = {self.role}\nregion = us-east-1\n")
        (self.home / ".aws/config").write_text(config, encoding="utf-8")
        self._sign_in(legacy)

    def _sign_in(self, legacy: bool) -> None:
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.env)
        try:
            from tray.core.identity.config import AwsConfig
            from tray.core.identity.signin import SignInOptions, login

            config = AwsConfig.load()
            fetch = lambda url: urllib.request.urlopen(url, timeout=30).read()  # noqa: E731
            login(config.session("bench"), SignInOptions(opener=fetch))
            if legacy:
                login(config.profile("legacy").session, SignInOptions(opener=fetch))
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def clear_role_cache(self) -> None:
        shutil.rmtree(self.home / ".aws/cli/cache", ignore_errors=True)
        shutil.rmtree(self.home / ".aws/sso/cache/aws-sso-util", ignore_errors=True)

    def close(self) -> None:
        self.sim.stop()
        shutil.rmtree(self.home, ignore_errors=True)


BOTOCORE_CREDS = "import boto3,sys; boto3.Session(profile_name=sys.argv[1]).get_credentials().get_frozen_credentials()"
BOTO3_SEQUENTIAL = """
import boto3, json, os, sys
token = json.load(open(sys.argv[1]))["accessToken"]
sso = boto3.client("sso", region_name="us-east-1")
found = 0
for page in sso.get_paginator("list_accounts").paginate(accessToken=token):
    for a in page["accountList"]:
        for rp in sso.get_paginator("list_account_roles").paginate(accessToken=token, accountId=a["accountId"]):
            found += len(rp["roleList"])
print(found)
"""


PEERS = True  # --no-peers: measure sso-tray alone


def peer(name: str) -> str | None:
    if not PEERS:
        return None
    exe = BENCH / name
    return str(exe) if exe.exists() else None


def token_file(world: World, name: str) -> str:
    import hashlib

    return str(world.home / ".aws/sso/cache" / (hashlib.sha1(name.encode()).hexdigest() + ".json"))


def credentials_scenarios(runs: int) -> list[Result]:
    results = []
    for latency in (0.0, 0.05):
        world = World(accounts=3, latency=latency)
        try:
            lat = f"{int(latency * 1000)}ms"
            # (a) role credentials cached by an earlier call
            tag = f"1a export, creds cached, {lat}"
            results.append(repeat(tag, "sso-tray", [*SSO_TRAY, "export", "p"], world.env, runs))
            results.append(repeat(tag, "botocore", [PY, "-c", BOTOCORE_CREDS, "p"], world.env, runs))
            results.append(repeat(tag + " (legacy)", "sso-tray", [*SSO_TRAY, "export", "legacy"], world.env, runs))
            if peer("aws-sso-util"):
                results.append(repeat(tag + " (legacy)", "aws-sso-util", [peer("aws-sso-util"), "credential-process", "--profile", "legacy"], world.env, runs))
            tag = f"1a credential-process, creds cached, {lat}"
            results.append(repeat(tag, "sso-tray", [*SSO_TRAY, "credential-process", "p"], world.env, runs))
            results.append(repeat(tag, "botocore", [PY, "-c", BOTOCORE_CREDS, "p"], world.env, runs))
            # (b) nothing cached
            tag = f"1b export, nothing cached, {lat}"
            results.append(repeat(tag, "sso-tray", [*SSO_TRAY, "export", "p"], world.env, runs, before=world.clear_role_cache))
            results.append(repeat(tag, "botocore", [PY, "-c", BOTOCORE_CREDS, "p"], world.env, runs, before=world.clear_role_cache))
            results.append(repeat(tag + " (legacy)", "sso-tray", [*SSO_TRAY, "export", "legacy"], world.env, runs, before=world.clear_role_cache))
            if peer("aws-sso-util"):
                results.append(repeat(tag + " (legacy)", "aws-sso-util", [peer("aws-sso-util"), "credential-process", "--profile", "legacy"],
                                      world.env, runs, before=world.clear_role_cache))
            if latency == 0.0:
                results.append(repeat("status, valid token", "sso-tray", [*SSO_TRAY, "status"], world.env, runs))
                # the shell prompt's segment, before every command line: files only, no AWS SDK
                results.append(repeat("prompt, AWS_PROFILE set", "sso-tray", [*SSO_TRAY, "prompt"], {**world.env, "AWS_PROFILE": "p"}, runs))
                results.append(repeat("prompt, AWS_PROFILE set", "python -c pass", [PY, "-c", "pass"], world.env, runs))
        finally:
            world.close()
    return results


def discovery_scenarios(runs: int) -> list[Result]:
    results = []
    world = World(accounts=300, roles=2, latency=0.05)
    try:
        for rate in (None, 20):
            world.sim.options.rate_limit = rate
            tag = "2 discovery 300x2 @50ms" + (f", limit {rate}/s" if rate else "")
            n = runs

            def counted(result: Result) -> Result:
                calls, throttled = world.sim.calls(), world.sim.throttled()
                result.extra = {"calls/run": round(sum(calls.values()) / (n + 1)), "throttled/run": round(sum(throttled.values()) / (n + 1))}
                if rate:
                    floor = (sum(calls.values()) - sum(throttled.values())) / (n + 1) / rate
                    result.extra["floor_s"] = round(floor, 2)
                    result.extra["x_floor"] = round(statistics.median(result.walls) / floor, 2)
                return result

            world.sim.reset_counts()
            results.append(counted(repeat(tag, "sso-tray", [*SSO_TRAY, "profiles", "--refresh", "--sso-session", "bench"], world.env, n)))
            if PEERS:
                world.sim.reset_counts()
                results.append(counted(repeat(tag, "boto3 sequential", [PY, "-c", BOTO3_SEQUENTIAL, token_file(world, "bench")], world.env, n)))
            if peer("aws-sso-util"):
                world.sim.reset_counts()
                util_env = dict(world.env, AWS_DEFAULT_SSO_START_URL=LEGACY_URL, AWS_DEFAULT_SSO_REGION="us-east-1")
                results.append(counted(repeat(tag, "aws-sso-util", [peer("aws-sso-util"), "roles"], util_env, n)))
        world.sim.options.rate_limit = None
        # a fifth of all calls answered TooManyRequestsException at random (the credentials issue's figure)
        world.sim.options.throttle, world.sim.options.seed = 0.2, 1
        world.sim.reset_counts()
        r = repeat("2 discovery 300x2 @50ms, 20% throttled", "sso-tray", [*SSO_TRAY, "profiles", "--refresh", "--sso-session", "bench"], world.env, runs)
        calls, throttled = world.sim.calls(), world.sim.throttled()
        r.extra = {"calls/run": round(sum(calls.values()) / (runs + 1)), "throttled/run": round(sum(throttled.values()) / (runs + 1))}
        results.append(r)
        world.sim.options.throttle = 0.0
    finally:
        world.close()
    return results


def growth_scenarios(runs: int) -> list[Result]:
    from datetime import datetime, timezone

    from tray.core.engine.state import AccountView, RoleView, SessionView, State
    from tray.ui.menu import build

    results = []
    for roles_total in (100, 1000, 5000):
        world = World(accounts=roles_total // 2, roles=2)
        try:
            results.append(repeat(f"3 discovery {roles_total} roles", "sso-tray", [*SSO_TRAY, "profiles", "--refresh", "--sso-session", "bench"], world.env, max(3, runs // 2)))
            results.append(repeat(f"3 warm profiles {roles_total} roles", "sso-tray", [*SSO_TRAY, "profiles", "--sso-session", "bench"], world.env, runs))
        finally:
            world.close()
        now = datetime.now(timezone.utc)
        accounts = tuple(
            AccountView(f"{111100000000 + i}", f"acct-{i}", tuple(RoleView(f"{111100000000 + i}/R{j}", f"{111100000000 + i}", f"acct-{i}", f"R{j}", "s") for j in range(2)))
            for i in range(roles_total // 2)
        )
        state = State(now, (SessionView("s", "valid", now, None, None, accounts),))
        actions = type("A", (), {"__getattr__": lambda self, n: (lambda *a, **k: None)})()
        r = Result(f"3 menu build {roles_total} roles", "sso-tray")
        build(state, actions)
        for _ in range(runs):
            started = time.perf_counter()
            build(state, actions)
            r.samples.append(_sample(time.perf_counter() - started))
        results.append(r)
    return results


def _sample(wall: float):
    from harness import Sample

    return Sample(wall=wall, rss_mib=0.0)


def credfile_scenario() -> list[Result]:
    """Concurrent writers of the credentials file: 8 processes x 25 writes, writes per second."""
    import subprocess

    home = Path(tempfile.mkdtemp(prefix="sso-tray-bench-"))
    code = (
        "import sys; from datetime import datetime, timezone; from pathlib import Path\n"
        "from tray.core.files.credfile import write_profile\n"
        "for i in range(25):\n"
        "    write_profile(Path(sys.argv[1]), f'p{sys.argv[2]}-{i}', {'aws_access_key_id': 'ASIA' + str(i), 'aws_secret_access_key': 's', 'aws_session_token': 't'})\n"
    )
    env = dict(os.environ, HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"))
    target = home / "credentials"
    started = time.perf_counter()
    procs = [subprocess.Popen([PY, "-c", code, str(target), str(n)], env=env) for n in range(8)]
    for p in procs:
        p.wait()
    wall = time.perf_counter() - started
    sections = target.read_text(encoding="utf-8").count("[p")
    shutil.rmtree(home, ignore_errors=True)
    r = Result("credentials file, 8 procs x 25 writes", "sso-tray", [_sample(wall)], {"writes/s": round(200 / wall), "sections": sections})
    return [r]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--only", choices=["credentials", "discovery", "growth", "credfile", "tray", "memory", "menu", "nativemenu"], action="append")
    parser.add_argument("--json", default=str(ROOT / "artifacts" / "bench.json"))
    parser.add_argument("--no-peers", action="store_true", help="measure sso-tray alone")
    args = parser.parse_args()
    global PEERS
    PEERS = not args.no_peers
    groups = {"credentials": credentials_scenarios, "discovery": discovery_scenarios, "growth": growth_scenarios}
    results: list[Result] = []
    for name in args.only or ["credentials", "discovery", "growth", "credfile", "tray", "memory", "menu", "nativemenu"]:
        print(f"running {name} …", file=sys.stderr, flush=True)
        if name == "tray":
            from tray_bench import tray_scenarios  # needs the virtual desktop's programs (scripts/bootstrap)

            results += tray_scenarios(args.runs)
        elif name == "memory":
            from tray_bench import memory_scenarios  # the same virtual desktop

            results += memory_scenarios()
        elif name == "menu":
            from menu_bench import menu_scenarios  # the same virtual desktop

            results += menu_scenarios()
        elif name == "nativemenu":
            from native_menu_bench import native_menu_scenarios  # pystray's Windows and macOS code on stand-ins

            results += native_menu_scenarios()
        else:
            results += credfile_scenario() if name == "credfile" else groups[name](args.runs)
    print(table(results))
    save(results, Path(args.json), machine())
    print(f"\nsaved {args.json}; machine: {machine()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
