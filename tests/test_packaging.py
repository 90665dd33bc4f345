"""Packaging (issue 5): the wheel in a fresh venv, the PyInstaller specs and bundle, the desktop entry,
the version in one place.

The Linux bundle is built only on request, it takes a while (see README: building bundles):

    SSO_TRAY_BUILD_BUNDLE=1 scripts/test tests/test_packaging.py -k bundle
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from PIL import Image

import tray
from conftest import IN_CI, ROOT, need_program, run_cli
from test_autostart import exec_argv, validate_desktop_file

PACKAGING = ROOT / "packaging"
BUILD_BUNDLE = os.environ.get("SSO_TRAY_BUILD_BUNDLE") == "1"


def version_line() -> str:
    return f"sso-tray {tray.__version__}"


# --- one version, a changelog, no binary artwork in the repository -------------------------------


def test_version_comes_from_one_place():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "tray.__version__"}
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == version_line()


def test_changelog_has_the_current_version():
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert changelog.startswith("# Changelog")
    assert f"## [{tray.__version__}]" in changelog
    assert "### Added" in changelog


def test_no_icon_binaries_are_kept_in_the_repository():
    """.ico, .icns and PNGs are drawn at build time from tray.ui.icons."""
    found = [p for folder in (PACKAGING, ROOT / "assets") for p in folder.rglob("*") if p.suffix in (".ico", ".icns", ".png")]
    assert found == []


# --- the desktop entry and the PyInstaller entry point --------------------------------------------


@pytest.mark.pygobject
def test_menu_desktop_entry_is_valid():
    path = PACKAGING / "sso-tray.desktop"
    validate_desktop_file(path)
    assert exec_argv(path) == ["sso-tray", "run"]
    text = path.read_text(encoding="utf-8")
    assert "\nIcon=sso-tray\n" in text
    assert "\nCategories=Utility;\n" in text


def entry(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """packaging/entry.py as the frozen app runs it: `sso-tray ARGS`."""
    return subprocess.run([sys.executable, str(PACKAGING / "entry.py"), *args], capture_output=True, text=True, timeout=60, **kwargs)


def test_entry_is_the_command_line():
    assert entry("--version").stdout.strip() == version_line()
    assert entry("-m", "tray", "--version").stdout.strip() == version_line()  # `sys.executable -m tray …`
    result = entry("no-such-command")
    assert result.returncode == 2


def test_entry_runs_the_clipboard_helper_command_line():
    """In a bundle sys.executable is the app: the clipboard clearer's `-m tray.core.outlets.clipboard …` must
    reach tray.core.outlets.clipboard.main, not the sso-tray command line."""
    from tray.core.outlets.clipboard import helper_argv

    argv = helper_argv(0, hashlib.sha256(b"not on the clipboard").hexdigest())
    assert argv[1:3] == ["-m", "tray.core.outlets.clipboard"]
    result = entry(*argv[1:], env={**os.environ, "DISPLAY": "", "WAYLAND_DISPLAY": ""})
    assert result.returncode in (0, 1), result.stderr  # 1: no clipboard here to look at
    result = entry("-m", "tray.core.outlets.clipboard")
    assert result.returncode == 2 and "clear-after" in result.stderr
    result = entry("-m", "json.tool")
    assert result.returncode == 2 and "runs only" in result.stderr


# --- the specs, run with stand-ins for PyInstaller's build classes ---------------------------------


class Recorder:
    """Stands for Analysis, PYZ, EXE, COLLECT and BUNDLE: keeps what the spec passed."""

    made: list["Recorder"] = []

    def __init__(self, *args, **kwargs):
        self.kind = type(self).__name__
        self.args, self.kwargs = args, kwargs
        self.pure, self.scripts = ["pure"], ["scripts"]
        self.binaries = [
            ("libgtk-3.so.0", "/usr/lib/libgtk-3.so.0", "BINARY"),
            ("lib/gdk-pixbuf/loaders/libpixbufloader-svg.so", "/x/libpixbufloader-svg.so", "BINARY"),
            ("librsvg-2.so.2", "/x/librsvg-2.so.2", "BINARY"),
            ("libxml2.so.2", "/x/libxml2.so.2", "BINARY"),
            ("libicudata.so.72", "/x/libicudata.so.72", "BINARY"),
        ]
        self.datas = [
            ("botocore/data/endpoints.json", "/x", "DATA"),
            ("botocore/data/sso/2019-06-10/service-2.json.gz", "/x", "DATA"),
            ("botocore/data/sso-oidc/2019-06-10/service-2.json.gz", "/x", "DATA"),
            ("botocore/data/ec2/2016-11-15/service-2.json.gz", "/x", "DATA"),
            ("certifi/cacert.pem", "/x", "DATA"),
        ]
        Recorder.made.append(self)


def run_spec(name: str, tmp_path: Path) -> dict[str, Recorder]:
    namespace = {"SPECPATH": str(PACKAGING), "DISTPATH": str(tmp_path / "dist"), "workpath": str(tmp_path / "work"),
                 "SPEC": str(PACKAGING / name), "__file__": str(PACKAGING / name)}
    for kind in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE"):
        namespace[kind] = type(kind, (Recorder,), {})
    Recorder.made = []
    (tmp_path / "dist" / "sso-tray").mkdir(parents=True)  # as COLLECT would leave it
    saved_path = list(sys.path)
    try:
        exec(compile((PACKAGING / name).read_text(encoding="utf-8"), name, "exec"), namespace)
    finally:
        sys.path[:] = saved_path
    made: dict[str, list[Recorder]] = {}
    for r in Recorder.made:
        made.setdefault(r.kind, []).append(r)
    return made


def test_linux_spec(tmp_path):
    made = run_spec("sso-tray-linux.spec", tmp_path)
    analysis = made["Analysis"][0]
    assert analysis.args[0] == [str(PACKAGING / "entry.py")]
    hidden = analysis.kwargs["hiddenimports"]
    for module in ("pystray._appindicator", "pystray._gtk", "pystray._xorg", "gi.repository.Gtk",
                   "gi.repository.AyatanaAppIndicator3", "tray.core.outlets.clipboard"):
        assert module in hidden
    # every command's module, which the cli imports by name only when the command runs
    from tray.cli.parser import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    commands = {p.get_default("func").partition(".")[0] for p in sub.choices.values()}
    assert commands and {f"tray.cli.{m}" for m in commands} <= set(hidden)
    assert analysis.kwargs["hooksconfig"]["gi"]["module-versions"] == {"Gtk": "3.0"}
    assert "cryptography" in analysis.kwargs["excludes"]
    # the finder page's files go where the package looks for them
    assert sorted((Path(f).name, to) for f, to in analysis.kwargs["datas"]) == [
        (name, "tray/ui/finder/static") for name in ("finder.css", "finder.js", "index.html")]
    # botocore keeps its top-level data and the services sso-tray calls
    assert [d[0] for d in analysis.datas] == [
        "botocore/data/endpoints.json",
        "botocore/data/sso/2019-06-10/service-2.json.gz",
        "botocore/data/sso-oidc/2019-06-10/service-2.json.gz",
        "certifi/cacert.pem",
    ]
    assert [b[0] for b in analysis.binaries] == ["libgtk-3.so.0"]
    (exe,) = made["EXE"]
    assert exe.kwargs["name"] == "sso-tray" and exe.kwargs["console"] is True
    assert made["COLLECT"][0].kwargs["name"] == "sso-tray"
    # the desktop files next to the executable
    bundle = tmp_path / "dist" / "sso-tray"
    validate_desktop_file(bundle / "share" / "applications" / "sso-tray.desktop")
    for size in (16, 22, 24, 32, 48, 64, 128, 256, 512):
        with Image.open(bundle / "share" / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "sso-tray.png") as icon:
            assert icon.size == (size, size) and icon.mode == "RGBA"


def test_macos_spec_makes_a_menu_bar_app_with_an_icns(tmp_path):
    made = run_spec("sso-tray-macos.spec", tmp_path)
    assert "pystray._darwin" in made["Analysis"][0].kwargs["hiddenimports"]
    (bundle,) = made["BUNDLE"]
    assert bundle.kwargs["name"] == "sso-tray.app"
    assert bundle.kwargs["bundle_identifier"] == "io.github.sso-tray"
    plist = bundle.kwargs["info_plist"]
    assert plist["LSUIElement"] is True
    assert plist["CFBundleShortVersionString"] == tray.__version__
    with Image.open(bundle.kwargs["icon"]) as icns:
        assert icns.format == "ICNS"
        assert {(512, 512, 2), (128, 128, 1), (16, 16, 2)} <= set(icns.info["sizes"])  # up to 1024 px, down to 16 pt @2x


def test_windows_spec_has_no_console_window_and_an_ico(tmp_path):
    made = run_spec("sso-tray-windows.spec", tmp_path)
    assert "pystray._win32" in made["Analysis"][0].kwargs["hiddenimports"]
    tray_exe, cli_exe = made["EXE"]
    assert tray_exe.kwargs["name"] == "sso-tray" and tray_exe.kwargs["console"] is False
    assert cli_exe.kwargs["name"] == "sso-tray-cli" and cli_exe.kwargs["console"] is True
    for exe in (tray_exe, cli_exe):  # Python's UTF-8 mode, as PyInstaller passes interpreter options
        assert ("X utf8", None, "OPTION") in exe.args[2]
    with Image.open(tray_exe.kwargs["icon"]) as ico:
        assert ico.format == "ICO"
        assert {(16, 16), (32, 32), (48, 48), (256, 256)} <= ico.info["sizes"]


def test_build_script_names_the_spec_for_each_platform():
    import importlib.util

    spec = importlib.util.spec_from_file_location("sso_tray_packaging_build", PACKAGING / "build.py")
    build_script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_script)
    dist = Path("/d")
    assert build_script.spec_and_output("linux", dist)[::2] == (PACKAGING / "sso-tray-linux.spec", dist / "sso-tray" / "sso-tray")
    assert build_script.spec_and_output("darwin", dist)[1] == dist / "sso-tray.app"
    assert build_script.spec_and_output("win32", dist)[0] == PACKAGING / "sso-tray-windows.spec"
    assert os.access(PACKAGING / "build", os.X_OK)


# --- the wheel, in a fresh virtual environment ----------------------------------------------------


def real_pip_cache() -> dict[str, str]:
    """Every test has a throw-away HOME; pip keeps its download cache in the real one, so that a
    fresh venv installs boto3 & co. from the cache instead of the network each run."""
    if os.environ.get("PIP_CACHE_DIR"):
        return {}
    return {"PIP_CACHE_DIR": str(Path(pwd.getpwuid(os.getuid()).pw_dir) / ".cache" / "pip")}


def copy_source(to: Path) -> Path:
    """The files a source distribution has, so that building leaves no build/ or egg-info in the work tree."""
    to.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, to / name)
    shutil.copytree(ROOT / "tray", to / "tray", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return to


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_wheel_in_a_fresh_venv_runs_and_finds_its_icons(sso_env, tmp_path, record_property):
    env = {**os.environ, **real_pip_cache()}
    env.pop("PYTHONPATH", None)
    source = copy_source(tmp_path / "source")
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)],
                   check=True, env=env, cwd=tmp_path, timeout=300, capture_output=True)
    (wheel,) = wheels.glob("sso_tray-*.whl")
    assert wheel.name == f"sso_tray-{tray.__version__}-py3-none-any.whl"
    record_property("wheel_bytes", wheel.stat().st_size)
    assert wheel.stat().st_size < 1_000_000

    # every module of the package is in it: tray.core, tray.ui, tray.simulator
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    modules = {p.relative_to(source).as_posix() for p in (source / "tray").rglob("*.py")}
    assert modules <= names, sorted(modules - names)
    assert not any(n.startswith(("tests/", "packaging/")) for n in names)
    # and the finder page's own files
    page = {p.relative_to(source).as_posix() for p in (source / "tray" / "ui" / "finder" / "static").iterdir()}
    assert page and page <= names, sorted(page - names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python, program = venv / "bin" / "python", venv / "bin" / "sso-tray"
    # the wheel with its dependencies, plus Pillow (the `tray` extra without PyGObject, which compiles)
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", str(wheel), "Pillow>=10"],
                             env=env, cwd=tmp_path, timeout=400, capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-3000:]

    def in_venv(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(list(argv), env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)

    result = in_venv(str(program), "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == version_line()

    login = run_cli("login", "--sso-session", "dev")
    assert login.returncode == 0, login.stderr
    result = in_venv(str(program), "status")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("dev — ")
    result = in_venv(str(program), "export", "dev-admin")
    assert result.returncode == 0, result.stderr
    assert "export AWS_ACCESS_KEY_ID=" in result.stdout

    result = in_venv(str(python), "-c",
                     "import tray; from tray.ui.icons import app_icon, icon_image, render; "
                     "print(tray.__file__); print(app_icon(64).size, render('valid', 0.5, 22).size)")
    assert result.returncode == 0, result.stderr
    where, sizes = result.stdout.splitlines()
    assert Path(where).is_relative_to(venv), "the venv must use the installed package, not the source tree"
    assert sizes == "(64, 64) (22, 22)"


# --- the Linux bundle (on request) -----------------------------------------------------------------


def wait_alive(proc: subprocess.Popen, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        time.sleep(0.2)
    return True


@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.skipif(not BUILD_BUNDLE, reason="builds the PyInstaller bundle (a minute or so): "
                    "SSO_TRAY_BUILD_BUNDLE=1 scripts/test tests/test_packaging.py -k bundle")
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux bundle")
def test_linux_bundle_runs_the_commands_and_the_tray(sso_env, home, tmp_path, record_property):
    dist = tmp_path / "dist"
    started = time.monotonic()
    build = subprocess.run([str(PACKAGING / "build"), "--dist", str(dist), "--work", str(tmp_path / "work")],
                           capture_output=True, text=True, timeout=1100)
    assert build.returncode == 0, (build.stdout + build.stderr)[-5000:]
    record_property("build_seconds", round(time.monotonic() - started))
    bundle = dist / "sso-tray"
    program = bundle / "sso-tray"
    record_property("bundle_bytes", sum(f.stat().st_size for f in bundle.rglob("*") if f.is_file()))

    def run(*args: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run([str(program), *args], capture_output=True, text=True, timeout=120, cwd=tmp_path, **kwargs)

    assert run("--version").stdout.strip() == version_line()
    assert run("-m", "tray.core.outlets.clipboard").returncode == 2  # the clipboard helper's route

    login = run_cli("login", "--sso-session", "dev")
    assert login.returncode == 0, login.stderr
    result = run("status")
    assert result.returncode == 0, result.stderr
    result = run("export", "dev-admin")
    assert result.returncode == 0, result.stderr
    assert "export AWS_ACCESS_KEY_ID=" in result.stdout and "export AWS_REGION=" in result.stdout

    # the finder page's files
    assert {p.name for p in bundle.rglob("tray/ui/finder/static/*")} >= {"index.html", "finder.css", "finder.js"}

    # desktop integration inside the bundle
    validate_desktop_file(bundle / "share" / "applications" / "sso-tray.desktop")
    assert (bundle / "share" / "icons" / "hicolor" / "256x256" / "apps" / "sso-tray.png").is_file()

    # start at login from the bundle points at the bundle, with its own icon
    result = run("autostart", "on")
    assert result.returncode == 0, result.stderr
    entry_file = home / ".config" / "autostart" / "sso-tray.desktop"
    validate_desktop_file(entry_file)
    assert exec_argv(entry_file) == [str(program), "run"]
    assert f"\nIcon={bundle}/share/icons/hicolor/256x256/apps/sso-tray.png\n" in entry_file.read_text(encoding="utf-8")
    assert run("autostart", "off").returncode == 0

    # the tray starts and keeps running: the GTK backend without a session bus, AppIndicator with one
    xvfb = need_program("Xvfb")
    display = f":{150 + os.getpid() % 50}"
    server = subprocess.Popen([xvfb, display, "-screen", "0", "800x600x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)
        env = {**os.environ, "DISPLAY": display}
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        launchers = [[]]
        if shutil.which("dbus-run-session"):
            launchers.append(["dbus-run-session", "--"])
        elif IN_CI:
            pytest.fail("dbus-run-session is missing (Debian package dbus)")
        for launcher in launchers:
            tray_proc = subprocess.Popen([*launcher, str(program), "run"], env=env, cwd=tmp_path,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
            alive = wait_alive(tray_proc, 6)
            if alive:
                os.killpg(tray_proc.pid, signal.SIGTERM)
            out, err = tray_proc.communicate(timeout=30)
            assert alive, f"the bundled tray exited ({launcher or 'no bus'}): {err[-3000:]}"
            for bad in ("Traceback", "ModuleNotFoundError", "ImportError", "internal error", "Typelib file"):
                assert bad not in err, err[-3000:]
    finally:
        server.terminate()
        server.wait(10)
