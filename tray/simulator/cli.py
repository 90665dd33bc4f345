"""``sso-tray simulator``: run the Identity Center simulator until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from .options import SimulatorOptions
from .simulator import Simulator


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected a comma-separated list of names")
    return names


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("expected a fraction between 0 and 1")
    return value


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("expected a number above 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    d = SimulatorOptions()
    p = argparse.ArgumentParser(
        prog="sso-tray simulator",
        description="Serve a local IAM Identity Center (sso-oidc and sso portal APIs, sign-in pages). "
                    "Point AWS_ENDPOINT_URL_SSO and AWS_ENDPOINT_URL_SSO_OIDC at the printed URL.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    p.add_argument("--accounts", type=int, default=None,
                   help=f"number of accounts (default {d.accounts}, or as many as --account-names)")
    p.add_argument("--roles-per-account", type=int, default=d.roles_per_account)
    p.add_argument("--account-names", type=_names, metavar="A,B,C")
    p.add_argument("--role-names", type=_names, metavar="R1,R2")
    p.add_argument("--token-lifetime", type=int, default=d.token_lifetime, metavar="SECONDS")
    p.add_argument("--session-lifetime", type=int, default=d.session_lifetime, metavar="SECONDS")
    p.add_argument("--credential-lifetime", type=int, default=d.credential_lifetime, metavar="SECONDS")
    p.add_argument("--client-lifetime", type=int, default=d.client_lifetime, metavar="SECONDS")
    p.add_argument("--device-code-lifetime", type=int, default=d.device_code_lifetime, metavar="SECONDS")
    p.add_argument("--device-interval", type=int, default=d.device_interval, metavar="SECONDS")
    p.add_argument("--no-refresh-tokens", action="store_true")
    p.add_argument("--rotate-refresh-tokens", action="store_true")
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--throttle", type=_fraction, default=0.0, metavar="FRACTION")
    p.add_argument("--rate-limit", type=_positive, default=None, metavar="PER_SECOND")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--auto-approve", action="store_true")
    p.add_argument("--region", default=d.region)
    p.add_argument("--quiet", action="store_true", help="no request log on stderr")
    return p


def options_from_args(args: argparse.Namespace) -> SimulatorOptions:
    accounts = args.accounts
    if accounts is None:
        accounts = len(args.account_names) if args.account_names else SimulatorOptions().accounts
    return SimulatorOptions(
        accounts=accounts,
        roles_per_account=args.roles_per_account,
        account_names=args.account_names,
        role_names=args.role_names,
        token_lifetime=args.token_lifetime,
        session_lifetime=args.session_lifetime,
        credential_lifetime=args.credential_lifetime,
        client_lifetime=args.client_lifetime,
        device_code_lifetime=args.device_code_lifetime,
        device_interval=args.device_interval,
        refresh_tokens=not args.no_refresh_tokens,
        rotate_refresh_tokens=args.rotate_refresh_tokens,
        auto_approve=args.auto_approve,
        region=args.region,
        latency=max(0.0, args.latency_ms) / 1000.0,
        throttle=args.throttle,
        rate_limit=args.rate_limit,
        seed=args.seed,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logger = logging.getLogger("tray.simulator")
    if args.quiet:
        logger.setLevel(logging.WARNING)
    else:
        logger.setLevel(logging.INFO)
        if not logger.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
            logger.addHandler(handler)
            logger.propagate = False

    stopping = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: stopping.set())

    sim = Simulator(options_from_args(args), host=args.host, port=args.port)
    try:
        sim.start()
        print(f"simulator listening on {sim.url}", flush=True)
        while not stopping.wait(0.2):
            pass
    finally:
        sim.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0
