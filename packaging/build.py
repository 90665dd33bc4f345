"""Build the sso-tray bundle for the platform this runs on (called by `packaging/build`).

One-folder PyInstaller builds from `packaging/sso-tray-{linux,macos,windows}.spec`. PyInstaller goes
into the running Python's environment (the project's .venv) when it is not there yet.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

PACKAGING = Path(__file__).resolve().parent
ROOT = PACKAGING.parent
PYINSTALLER = "pyinstaller>=6.6"


def spec_and_output(platform: str, dist: Path) -> tuple[Path, Path, Path]:
    """(spec, bundle folder, executable) for `platform`."""
    if platform == "darwin":
        app = dist / "sso-tray.app"
        return PACKAGING / "sso-tray-macos.spec", app, app / "Contents" / "MacOS" / "sso-tray"
    if platform in ("win32", "cygwin"):
        return PACKAGING / "sso-tray-windows.spec", dist / "sso-tray", dist / "sso-tray" / "sso-tray-cli.exe"
    return PACKAGING / "sso-tray-linux.spec", dist / "sso-tray", dist / "sso-tray" / "sso-tray"


def ensure_pyinstaller() -> None:
    if importlib.util.find_spec("PyInstaller") is not None:
        return
    print(f"build: installing {PYINSTALLER} into {sys.prefix}", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", PYINSTALLER], check=True)


def check_app_importable() -> None:
    missing = [m for m in ("tray", "pystray", "PIL") if importlib.util.find_spec(m) is None]
    if missing:
        sys.exit(f"build: {', '.join(missing)} not importable by {sys.executable}: install the package with its tray extra "
                 f"(pip install -e '.[tray]', or scripts/bootstrap)")


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="packaging/build", description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="where the bundle goes (default: dist/)")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "pyinstaller", help="PyInstaller's work folder (default: build/pyinstaller/)")
    parser.add_argument("--clean", action="store_true", help="empty PyInstaller's cache first")
    parser.add_argument("--log-level", default="WARN", help="PyInstaller's log level (default: WARN)")
    args = parser.parse_args(argv)

    check_app_importable()
    ensure_pyinstaller()
    spec, bundle, executable = spec_and_output(sys.platform, args.dist.resolve())
    command = [
        sys.executable, "-m", "PyInstaller", "--noconfirm", f"--log-level={args.log_level}",
        f"--distpath={args.dist.resolve()}", f"--workpath={args.work.resolve()}",
        *(["--clean"] if args.clean else []), str(spec),
    ]
    started = time.monotonic()
    subprocess.run(command, check=True, cwd=ROOT, env={**os.environ, "PYTHONNOUSERSITE": "1"})
    took = time.monotonic() - started
    print(f"build: {executable} ({folder_size(bundle) / 2**20:.1f} MiB in {bundle}, built in {took:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
