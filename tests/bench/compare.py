"""Two builds of sso-tray side by side, with botocore's own SSO provider: a cached `export` and
`credential-process`, the runs interleaved (A, B, botocore, A, B, …) so that a busy machine slows all three
alike. For a before/after on a shared machine, where figures of separate `scripts/bench` runs differ more
than the change does.

    python tests/bench/compare.py BIN_A BIN_B [--runs N] [--latency SECONDS]

BIN_A and BIN_B are the `bin` folders of two installs (each with `sso-tray` and a `python` with boto3), e.g.
a virtual environment with main's wheel and .venv-bench. Prints wall and CPU medians and the ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import run_once  # noqa: E402
from run import BOTOCORE_CREDS, World  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bin_a", type=Path)
    parser.add_argument("bin_b", type=Path)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--latency", type=float, default=0.0, help="the simulator's latency per call (botocore calls it)")
    args = parser.parse_args()
    world = World(accounts=3, latency=args.latency)
    try:
        cases = {"botocore provider": [str(args.bin_b / "python"), "-c", BOTOCORE_CREDS, "p"]}
        for label, folder in (("A", args.bin_a), ("B", args.bin_b)):
            for command in ("export", "credential-process"):
                cases[f"{label} {command} p"] = [str(folder / "sso-tray"), command, "p"]
        samples: dict[str, list] = {name: [] for name in cases}
        for i in range(args.runs + 1):  # the first round warms the caches, unmeasured
            for name, argv in cases.items():
                sample = run_once(argv, world.env)
                if i:
                    samples[name].append(sample)
    finally:
        world.close()
    boto_wall = statistics.median(s.wall for s in samples["botocore provider"])
    boto_cpu = statistics.median(s.cpu for s in samples["botocore provider"])
    print(f"{'':28} {'wall median':>12} {'CPU median':>11} {'÷ botocore wall':>16} {'÷ botocore CPU':>15}")
    for name, runs in samples.items():
        wall, cpu = statistics.median(s.wall for s in runs), statistics.median(s.cpu for s in runs)
        print(f"{name:28} {wall * 1000:9.1f} ms {cpu * 1000:8.1f} ms {wall / boto_wall:16.2f} {cpu / boto_cpu:15.2f}")
    print(f"A = {args.bin_a}, B = {args.bin_b}; {args.runs} interleaved runs each, simulator latency {args.latency * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
