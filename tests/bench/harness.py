"""Measuring whole processes: wall time and peak RSS of each run, repeated, with the spread visible."""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path


TIME = "/usr/bin/time"  # GNU time (Debian package `time`)


@dataclass
class Sample:
    wall: float  # seconds
    rss_mib: float  # peak resident set of the process
    cpu: float | None = None  # user + system seconds of the process: what wall time is, less the machine's other load


@dataclass
class Result:
    scenario: str
    tool: str
    samples: list[Sample] = field(default_factory=list)
    extra: dict = field(default_factory=dict)  # API calls, throttled calls, …

    @property
    def walls(self) -> list[float]:
        return [s.wall for s in self.samples]

    @property
    def rss(self) -> list[float]:
        return [s.rss_mib for s in self.samples]

    @property
    def cpus(self) -> list[float]:
        return [s.cpu for s in self.samples if s.cpu is not None]

    def summary(self) -> dict:
        w, r = self.walls, self.rss
        return {
            "scenario": self.scenario,
            "tool": self.tool,
            "runs": len(w),
            "wall_median_s": statistics.median(w) if w else None,
            "wall_min_s": min(w) if w else None,
            "wall_max_s": max(w) if w else None,
            "rss_median_mib": statistics.median(r) if r else None,
            "cpu_median_s": statistics.median(self.cpus) if self.cpus else None,
            **self.extra,
        }


def run_once(argv: list[str], env: dict, stdin: str | None = None, timeout: float = 300) -> Sample:
    """One process, measured from start to exit. Peak RSS comes from GNU time, a tiny parent: a child forked
    from this (large) Python process would count the parent's pages in its own high-water mark. CPU time is
    what the children of this process used meanwhile (GNU time and the process, in microseconds)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run([TIME, "-f", "%M", "-o", report.name, *argv], env=env, input=stdin, text=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()[-500:]}")
        rss_kib = int(report.read().split()[-1])
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return Sample(wall=wall, rss_mib=rss_kib / 1024, cpu=cpu)


def repeat(scenario: str, tool: str, argv: list[str], env: dict, runs: int = 10, warmup: int = 1, before=None, **kwargs) -> Result:
    """`runs` measured runs after `warmup` unmeasured ones; `before()` runs before each (e.g. to clear a cache)."""
    result = Result(scenario, tool)
    for i in range(warmup + runs):
        if before is not None:
            before()
        sample = run_once(argv, env, **kwargs)
        if i >= warmup:
            result.samples.append(sample)
    return result


def table(results: list[Result], pairs: dict[str, str] | None = None) -> str:
    """A plain-text table: median and min–max wall time, median CPU time (user + system), median peak RSS,
    and sso-tray ÷ peer ratios."""
    rows = [("scenario", "tool", "wall median", "min–max", "CPU median", "RSS MiB", "time ratio", "CPU ratio", "RSS ratio", "notes")]
    ours = {r.scenario: r for r in results if r.tool == "sso-tray"}
    for r in results:
        s = r.summary()
        ratio_t = ratio_c = ratio_r = ""
        mine = ours.get(r.scenario)
        if mine is not None and r is not mine and mine.samples and r.samples:
            ratio_t = f"{statistics.median(mine.walls) / statistics.median(r.walls):.2f}"
            if statistics.median(r.rss):  # in-process figures have no RSS of their own
                ratio_r = f"{statistics.median(mine.rss) / statistics.median(r.rss):.2f}"
            if mine.cpus and r.cpus and statistics.median(r.cpus):
                ratio_c = f"{statistics.median(mine.cpus) / statistics.median(r.cpus):.2f}"
        notes = ", ".join(f"{k}={v}" for k, v in r.extra.items())
        if r.samples:
            rss = f"{s['rss_median_mib']:.1f}" if s["rss_median_mib"] else ""  # in-process figures have none
            cpu = f"{_ms(s['cpu_median_s'])} ms" if s["cpu_median_s"] is not None else ""
            rows.append((r.scenario, r.tool, f"{_ms(s['wall_median_s'])} ms", f"{_ms(s['wall_min_s'])}–{_ms(s['wall_max_s'])}",
                         cpu, rss, ratio_t, ratio_c, ratio_r, notes))
        else:
            rows.append((r.scenario, r.tool, "", "", "", "", "", "", "", notes))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}" if seconds < 0.01 else f"{seconds * 1000:.0f}"


def save(results: list[Result], path: Path, machine: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"machine": machine, "results": [r.summary() | {"samples": [asdict(s) for s in r.samples]} for r in results]}, indent=2), encoding="utf-8")


def machine() -> dict:
    info = {"python": sys.version.split()[0], "cpus": os.cpu_count()}
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        info["mem_gib"] = round(int(Path("/proc/meminfo").read_text(encoding="utf-8").split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return info
