"""Start at login (SPEC §3 `autostart`): the XDG entry on Linux for real, and the macOS LaunchAgent
and the Windows Run value through the same code, on Linux (plistlib; the registry behind a dict)."""

from __future__ import annotations

import importlib.util
import os
import plistlib
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import need, need_program, run_cli
from tray.core.osutil import autostart
from tray.core.files import paths
from tray.core.osutil.autostart import (
    LaunchAgent,
    MemoryRegistry,
    RunKey,
    XdgAutostart,
    desktop_entry,
    program_command,
)
from tray.core.errors import AwsError


def validate_desktop_file(path: Path) -> str:
    """desktop-file-validate's verdict: no error and no warning (hints are only advice)."""
    validator = need_program("desktop-file-validate")
    result = subprocess.run([validator, str(path)], capture_output=True, text=True, timeout=30)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "error:" not in output and "warning:" not in output, output
    return output


def desktop_keys(path: Path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "[Desktop Entry]"
    return dict(line.split("=", 1) for line in lines[1:] if line and not line.startswith("#"))


def exec_argv(path: Path) -> list[str]:
    """The command a desktop reads from the entry's Exec key, parsed by GLib (what GNOME uses)."""
    need(importlib.util.find_spec("gi") is not None, "PyGObject (the tray extra) parses the entry as GNOME does")
    from gi.repository import GLib

    keyfile = GLib.KeyFile()
    keyfile.load_from_file(str(path), GLib.KeyFileFlags.NONE)
    value = keyfile.get_string("Desktop Entry", "Exec")  # undoes the string escapes
    assert "%" not in value.replace("%%", ""), "no field codes in an autostart entry"
    ok, argv = GLib.shell_parse_argv(value.replace("%%", "%"))  # undoes the quoting
    assert ok
    return argv


def autostart_file(home: Path) -> Path:
    return home / ".config" / "autostart" / "sso-tray.desktop"


# --- Linux: the XDG autostart entry --------------------------------------------------------------


@pytest.mark.pygobject
def test_linux_round_trip_through_the_api(home):
    path = autostart_file(home)
    assert not autostart.is_enabled("linux")
    assert autostart.describe("linux") == str(path)

    autostart.enable("linux")
    assert autostart.is_enabled("linux")
    assert path.is_file()
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)
    validate_desktop_file(path)
    keys = desktop_keys(path)
    assert keys["Type"] == "Application"
    assert keys["Name"] == "sso-tray"
    assert keys["Comment"]
    assert keys["Icon"] == "sso-tray"
    assert keys["Categories"] == "Utility;"
    assert keys["X-GNOME-Autostart-enabled"] == "true"
    assert exec_argv(path) == program_command()

    autostart.enable("linux")  # again: the same entry, rewritten
    assert autostart.is_enabled("linux")

    autostart.disable("linux")
    assert not path.exists()
    assert not autostart.is_enabled("linux")
    autostart.disable("linux")  # already off: nothing to do, no error


@pytest.mark.pygobject
def test_the_entry_runs_the_installed_console_script(home):
    """From this venv the program is its `sso-tray` console script, by absolute path, with `run`."""
    autostart.enable("linux")
    argv = exec_argv(autostart_file(home))
    assert argv[1:] == ["run"]
    assert Path(argv[0]).is_absolute()
    assert os.access(argv[0], os.X_OK)
    assert Path(argv[0]).name in ("sso-tray", "python") or argv[1:3] == ["-m", "tray"]


def test_xdg_config_home_is_honoured(home, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(elsewhere))
    autostart.enable("linux")
    assert (elsewhere / "autostart" / "sso-tray.desktop").is_file()
    assert autostart.describe("linux") == str(elsewhere / "autostart" / "sso-tray.desktop")


@pytest.mark.parametrize("value", [None, "", "relative/config"])
def test_without_a_usable_xdg_config_home_the_entry_goes_to_dot_config(home, monkeypatch, value):
    """The XDG spec: an unset, empty or relative XDG_CONFIG_HOME means ~/.config."""
    if value is None:
        monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CONFIG_HOME", value)
    autostart.enable("linux")
    assert autostart_file(home).is_file()


@pytest.mark.parametrize("switch", ["X-GNOME-Autostart-enabled=false", "Hidden=true"])
def test_an_entry_turned_off_in_the_desktop_settings_counts_as_off(home, switch):
    """GNOME's and KDE's startup settings switch an entry off in place instead of removing it."""
    autostart.enable("linux")
    path = autostart_file(home)
    text = path.read_text(encoding="utf-8").replace("X-GNOME-Autostart-enabled=true\n", "")
    path.write_text(text + switch + "\n", encoding="utf-8")
    assert not autostart.is_enabled("linux")
    autostart.enable("linux")  # turning it on again from sso-tray rewrites the entry
    assert autostart.is_enabled("linux")


@pytest.mark.parametrize("text", ["", "not a desktop entry\n", "[Other]\nExec=x\n", "\xff\xfe garbage"])
def test_a_malformed_entry_is_off_not_a_crash(home, text):
    path = autostart_file(home)
    path.parent.mkdir(parents=True)
    path.write_bytes(text.encode("latin-1"))
    assert not autostart.is_enabled("linux")


@pytest.mark.pygobject
@pytest.mark.parametrize("argv", [
    ["/opt/My Apps/sso-tray", "run"],
    ["/home/a'b/bin/sso-tray", "run"],
    ['/tmp/q"uote/sso-tray', "run"],
    ["/tmp/dollar$HOME`x`/sso-tray", "run"],
    ["/tmp/back\\slash/sso-tray", "run"],
    ["/tmp/100%/sso-tray", "run"],
    ["/usr/bin/python3", "-m", "tray", "run"],
])
def test_exec_quoting_round_trips_through_glib_and_validates(tmp_path, argv):
    """Any install path survives the Desktop Entry Exec quoting: GLib parses back the same argv."""
    path = tmp_path / "sso-tray.desktop"
    path.write_text(desktop_entry(argv), encoding="utf-8")
    validate_desktop_file(path)
    assert exec_argv(path) == argv


def test_a_folder_that_cannot_be_written_is_one_clear_error(home, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(blocker))
    with pytest.raises(AwsError, match="cannot write .*sso-tray.desktop"):
        autostart.enable("linux")


def test_entry_written_atomically_leaves_no_temporary_file(home):
    autostart.enable("linux")
    autostart.enable("linux")
    assert [p.name for p in autostart_file(home).parent.iterdir()] == ["sso-tray.desktop"]


# --- which program: bundle, console script, PATH, python -m tray -----------------------------------


def fake_install(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text("", encoding="utf-8")
        (folder / name).chmod(0o755)
    return folder


def test_program_of_a_pyinstaller_bundle_is_the_bundle(tmp_path, monkeypatch):
    bundle = fake_install(tmp_path / "dist" / "sso-tray", "sso-tray")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(bundle / "sso-tray"))
    assert program_command("linux") == [str(bundle / "sso-tray"), "run"]
    assert program_command("darwin") == [str(bundle / "sso-tray"), "run"]


def test_windows_bundle_console_twin_points_login_at_the_windowless_exe(tmp_path, monkeypatch):
    bundle = fake_install(tmp_path / "sso-tray", "sso-tray.exe", "sso-tray-cli.exe")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(bundle / "sso-tray-cli.exe"))
    assert program_command("win32") == [str(bundle / "sso-tray.exe"), "run"]


def test_program_is_the_console_script_beside_the_running_python(tmp_path, monkeypatch):
    bin_dir = fake_install(tmp_path / "venv" / "bin", "python", "sso-tray")
    monkeypatch.delattr(sys, "frozen", raising=False)
    monkeypatch.setattr(sys, "executable", str(bin_dir / "python"))
    assert program_command("linux") == [str(bin_dir / "sso-tray"), "run"]


def test_program_on_windows_is_pythonw_so_no_console_window_opens(tmp_path, monkeypatch):
    scripts = fake_install(tmp_path / "venv" / "Scripts", "python.exe", "pythonw.exe", "sso-tray.exe")
    monkeypatch.delattr(sys, "frozen", raising=False)
    monkeypatch.setattr(sys, "executable", str(scripts / "python.exe"))
    assert program_command("win32") == [str(scripts / "pythonw.exe"), "-X", "utf8", "-m", "tray", "run"]


def test_on_windows_python_itself_starts_in_utf8_mode(tmp_path, monkeypatch):
    """Without -X utf8, Windows Python reads and writes text in the ANSI code page."""
    scripts = fake_install(tmp_path / "python", "python.exe")
    monkeypatch.delattr(sys, "frozen", raising=False)
    monkeypatch.setattr(sys, "executable", str(scripts / "python.exe"))
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert program_command("win32") == [str(scripts / "python.exe"), "-X", "utf8", "-m", "tray", "run"]


def test_program_falls_back_to_path_then_to_python_m_tray(tmp_path, monkeypatch):
    bin_dir = fake_install(tmp_path / "python" / "bin", "python")
    monkeypatch.delattr(sys, "frozen", raising=False)
    monkeypatch.setattr(sys, "executable", str(bin_dir / "python"))
    monkeypatch.setenv("PATH", str(fake_install(tmp_path / "local" / "bin", "sso-tray")))
    assert program_command("linux") == [str(tmp_path / "local" / "bin" / "sso-tray"), "run"]
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert program_command("linux") == [str(bin_dir / "python"), "-m", "tray", "run"]


# --- macOS: the LaunchAgent -----------------------------------------------------------------------


def test_macos_launch_agent_round_trip(home):
    path = home / "Library" / "LaunchAgents" / "io.github.sso-tray.plist"
    command = ["/Applications/sso-tray.app/Contents/MacOS/sso-tray", "run"]
    agent = LaunchAgent()
    assert not agent.is_enabled()
    assert agent.describe() == str(path)

    agent.enable(command)
    assert agent.is_enabled()
    with path.open("rb") as f:
        plist = plistlib.load(f)
    assert plist["Label"] == "io.github.sso-tray"
    assert plist["ProgramArguments"] == command
    assert plist["RunAtLoad"] is True
    assert plist["ProcessType"] == "Interactive"
    # never restarted in a loop: no KeepAlive, or only after a crash
    assert plist.get("KeepAlive", False) in (False, {"SuccessfulExit": False})
    assert plist["LimitLoadToSessionType"] == "Aqua"
    assert plist["StandardErrorPath"] == str(home / "Library" / "Logs" / "sso-tray.log")
    assert path.read_bytes().startswith(b"<?xml")  # the XML form launchctl and plutil read

    agent.disable()
    assert not path.exists()
    assert not agent.is_enabled()
    agent.disable()


def test_macos_through_the_module_api_uses_the_running_program(home):
    autostart.enable("darwin")
    assert autostart.is_enabled("darwin")
    plist = plistlib.loads(Path(autostart.describe("darwin")).read_bytes())
    assert plist["ProgramArguments"] == program_command("darwin")
    autostart.disable("darwin")
    assert not autostart.is_enabled("darwin")


@pytest.mark.parametrize("body", [b"", b"not a plist", plistlib.dumps({"Label": "x", "RunAtLoad": True, "Disabled": True})])
def test_macos_unreadable_or_disabled_agent_is_off(home, body):
    agent = LaunchAgent()
    agent.path.parent.mkdir(parents=True)
    agent.path.write_bytes(body)
    assert not agent.is_enabled()


LISTING_13 = """disabled services = {
	"com.apple.ScreenReaderUIServer" => disabled
	"io.github.sso-tray" => %s
}
"""
LISTING_12 = """disabled services = {
	"io.github.sso-tray" => %s
	"com.example.other" => false
}
"""


class Launchctl:
    """launchd's answers as `launchctl` gives them: the listing, with the agent switched off until `enable`."""

    def __init__(self, listing: str, off: str, on: str):
        self.listing, self.off, self.on, self.calls = listing % off, off, on, []

    def __call__(self, *args: str) -> str | None:
        self.calls.append(" ".join(args))
        if args[0] == "enable":
            self.listing = self.listing.replace(f'"{args[1].rpartition("/")[2]}" => {self.off}', f'"{args[1].rpartition("/")[2]}" => {self.on}')
            return ""
        return self.listing if args[0] == "print-disabled" else None


@pytest.mark.parametrize("listing, off, on", [(LISTING_13, "disabled", "enabled"), (LISTING_12, "true", "false")])
def test_macos_start_at_login_follows_launchds_switch(home, listing, off, on):
    """Turning the agent off in System Settings (`launchctl disable`) keeps the plist: `print-disabled` is
    what tells, and ticking "Start at login" again enables the label in launchd too."""
    import os

    launchctl = Launchctl(listing, off, on)
    agent = LaunchAgent(launchctl=launchctl)
    command = ["/Applications/sso-tray.app/Contents/MacOS/sso-tray", "run"]
    agent._write(plistlib.dumps(autostart.launch_agent(command)))
    assert not agent.is_enabled()  # the plist says yes, launchd says no
    assert launchctl.calls == [f"print-disabled gui/{os.getuid()}"]
    agent.enable(command)
    assert f"enable gui/{os.getuid()}/io.github.sso-tray" in launchctl.calls
    assert agent.is_enabled()


def test_launchctl_is_the_program_on_path(tmp_path, monkeypatch):
    """`launchctl` itself is asked, with its arguments as they are; where there is none, nothing is known."""
    import os
    import stat
    import sys

    from tray.core.osutil.autostart import _launchctl

    if sys.platform == "win32":
        assert _launchctl("print-disabled", "gui/501") is None
        return
    if sys.platform != "darwin":  # macOS has the real one; elsewhere a script answers as it does
        script = tmp_path / "launchctl"
        script.write_text('#!/bin/sh\nprintf \'disabled services = {\\n\\t"%s" => disabled\\n}\\n\' "$2"\n', encoding="utf-8")
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
        monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    listing = _launchctl("print-disabled", f"gui/{os.getuid()}")
    assert listing is not None and "disabled services" in listing
    if sys.platform != "darwin":
        assert autostart.launchd_disabled(listing) == {f"gui/{os.getuid()}": True}


def test_macos_without_launchctl_the_plist_decides(home):
    agent = LaunchAgent(launchctl=lambda *args: None)
    agent.enable(["/usr/local/bin/sso-tray", "run"])
    assert agent.is_enabled()
    assert autostart.launchd_disabled(LISTING_13 % "disabled") == {"com.apple.ScreenReaderUIServer": True, "io.github.sso-tray": True}


# --- Windows: the Run value, through the registry interface ---------------------------------------


@pytest.mark.portable
def test_windows_run_value_round_trip():
    registry = MemoryRegistry({"OneDrive": '"C:\\Program Files\\Microsoft OneDrive\\OneDrive.exe" /background'})
    run = RunKey(registry, MemoryRegistry())
    assert not run.is_enabled()
    assert run.describe() == "HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\sso-tray"

    run.enable(["C:\\Program Files\\sso-tray\\sso-tray.exe", "run"])
    assert run.is_enabled()
    assert registry.values["sso-tray"] == '"C:\\Program Files\\sso-tray\\sso-tray.exe" run'

    run.enable(["C:\\Users\\Ann\\pipx\\venvs\\sso-tray\\Scripts\\pythonw.exe", "-m", "tray", "run"])
    assert registry.values["sso-tray"] == '"C:\\Users\\Ann\\pipx\\venvs\\sso-tray\\Scripts\\pythonw.exe" -m tray run'

    run.disable()
    assert not run.is_enabled()
    assert "sso-tray" not in registry.values
    assert "OneDrive" in registry.values  # other programs' values are left alone
    run.disable()


@pytest.mark.portable
def test_windows_through_the_backend_chooser(monkeypatch):
    registry = MemoryRegistry()
    backend = autostart.backend("win32", registry=registry, approved=MemoryRegistry())
    backend.enable(program_command("win32"))
    assert backend.is_enabled()
    assert registry.values["sso-tray"].startswith('"')


def test_the_real_registry_off_windows_is_a_clear_error():
    with pytest.raises(AwsError, match="only there on Windows"):
        autostart.backend("win32").enable(["C:\\sso-tray.exe", "run"])


@pytest.mark.portable
def test_backend_by_platform():
    assert isinstance(autostart.backend("linux"), XdgAutostart)
    assert isinstance(autostart.backend("freebsd14"), XdgAutostart)
    assert isinstance(autostart.backend("darwin"), LaunchAgent)
    assert isinstance(autostart.backend("win32", registry=MemoryRegistry(), approved=MemoryRegistry()), RunKey)


# --- the command: sso-tray autostart on|off|status -------------------------------------------------


@pytest.mark.pygobject
def test_cli_autostart_on_status_off(home):
    path = autostart_file(home)

    result = run_cli("autostart", "status")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "off"

    result = run_cli("autostart", "on")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"sso-tray starts at login ({path})"
    validate_desktop_file(path)
    argv = exec_argv(path)
    assert argv[-1] == "run" and Path(argv[0]).is_absolute() and os.access(argv[0], os.X_OK)

    result = run_cli("autostart", "status")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"on ({path})"

    result = run_cli("autostart", "off")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "sso-tray no longer starts at login"
    assert not path.exists()

    result = run_cli("autostart", "status")
    assert result.stdout.strip() == "off"


def test_cli_autostart_without_a_choice_is_bad_usage():
    result = run_cli("autostart", "sideways")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


# --- Linux: the applications-menu entry and icons of a pip/pipx install ------------------------------


def menu_entry(home: Path) -> Path:
    return home / ".local" / "share" / "applications" / "sso-tray.desktop"


def app_icon_files(home: Path) -> dict[int, Path]:
    hicolor = home / ".local" / "share" / "icons" / "hicolor"
    return {int(p.parent.parent.name.split("x")[0]): p for p in hicolor.glob("*/apps/sso-tray.png")}


def check_menu_entry(home: Path) -> None:
    """A valid applications-menu entry that starts this install's tray, and its icon at each size."""
    from PIL import Image

    entry = menu_entry(home)
    validate_desktop_file(entry)
    keys = desktop_keys(entry)
    assert keys["Icon"] == "sso-tray" and keys["Keywords"].startswith("AWS;")
    assert "X-GNOME-Autostart-enabled" not in keys
    assert exec_argv(entry) == exec_argv(autostart_file(home))
    icons = app_icon_files(home)
    assert {16, 32, 48, 256} <= set(icons), icons
    for size, path in icons.items():
        with Image.open(path) as image:
            assert image.size == (size, size)
    # what a desktop's menu does: GLib finds the entry by its id, GTK's icon theme finds its icon
    found = subprocess.run([sys.executable, "-c", FIND_AS_A_DESKTOP_DOES], capture_output=True, text=True, timeout=60)
    assert found.returncode == 0, found.stderr
    assert found.stdout.splitlines() == [str(entry), str(icons[48])]


FIND_AS_A_DESKTOP_DOES = """
import gi
gi.require_version("Gtk", "3.0")
from gi.repository import Gio, Gtk
print(Gio.DesktopAppInfo.new("sso-tray.desktop").get_filename())
print(Gtk.IconTheme.new().lookup_icon("sso-tray", 48, 0).get_filename())
"""


@pytest.mark.pygobject
def test_cli_autostart_on_adds_the_menu_entry_and_icons_and_off_removes_them(home):
    assert run_cli("autostart", "on").returncode == 0
    check_menu_entry(home)
    assert run_cli("autostart", "off").returncode == 0
    assert not menu_entry(home).exists() and app_icon_files(home) == {}
    assert not autostart_file(home).exists()


def test_xdg_data_home_is_honoured_for_the_menu_entry(home, tmp_path, monkeypatch):
    from tray.ui.icons import save_app_icons

    data = tmp_path / "data"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    autostart.enable("linux", app_icons=save_app_icons)
    assert (data / "applications" / "sso-tray.desktop").is_file()
    assert (data / "icons" / "hicolor" / "48x48" / "apps" / "sso-tray.png").is_file()
    autostart.disable("linux")
    assert not (data / "applications" / "sso-tray.desktop").exists()


# --- Windows: Task Manager's StartupApproved switch ---------------------------------------------------


def filetime_tail() -> bytes:
    return bytes.fromhex("7a1c9d3e5b2fdb01")  # 8 bytes: when it was switched, as Task Manager writes it


@pytest.mark.portable
# 02/06 and 03/07 as Task Manager writes them; 0x63 is a disabled value reported from the field (superuser.com 1766797)
@pytest.mark.parametrize("first,on", [(0x02, True), (0x06, True), (0x03, False), (0x07, False), (0x63, False)])
def test_windows_status_honours_task_managers_switch(first, on):
    registry, approved = MemoryRegistry(), MemoryRegistry()
    run = RunKey(registry, approved)
    run.enable(["C:\\sso-tray\\sso-tray.exe", "run"])
    assert run.is_enabled() and approved.values == {}  # never switched: nothing written there
    approved.set("sso-tray", bytes([first, 0, 0, 0]) + filetime_tail())
    assert run.is_enabled() is on


@pytest.mark.portable
def test_windows_on_switches_a_disabled_entry_back_on_and_off_removes_both():
    registry, approved = MemoryRegistry(), MemoryRegistry({"OneDrive": bytes([0x03]) + bytes(11)})
    run = RunKey(registry, approved)
    run.enable(["C:\\sso-tray\\sso-tray.exe", "run"])
    approved.set("sso-tray", bytes([0x03, 0, 0, 0]) + filetime_tail())
    assert not run.is_enabled()

    run.enable(["C:\\sso-tray\\sso-tray.exe", "run"])
    assert run.is_enabled()
    assert approved.values["sso-tray"] == bytes([0x02]) + bytes(11)  # what Task Manager's Enable writes

    run.disable()
    assert "sso-tray" not in registry.values and "sso-tray" not in approved.values
    assert approved.values["OneDrive"][0] == 0x03  # other programs' switches are left alone


@pytest.mark.portable
def test_a_run_value_without_a_switch_value_is_on():
    assert autostart.approved(None) and autostart.approved(b"") and autostart.approved("text")


# --- macOS: App Translocation ----------------------------------------------------------------------------


TRANSLOCATED = "/private/var/folders/4f/x2_c1q9s3d5gk/T/AppTranslocation/5C0E6F0A-1B2C-4D3E-9F8A-7B6C5D4E3F2A/d/sso-tray.app"


def test_macos_refuses_a_launch_agent_for_a_translocated_app(home, monkeypatch):
    """A quarantined app opened from Downloads runs from a random read-only copy that is gone after a
    restart: a LaunchAgent pointing there would start nothing."""
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", f"{TRANSLOCATED}/Contents/MacOS/sso-tray")
    with pytest.raises(AwsError) as err:
        autostart.enable("darwin")
    assert "App Translocation" in str(err.value) and "/Applications" in str(err.value)
    assert not LaunchAgent().path.exists()

    monkeypatch.setattr(sys, "executable", "/Applications/sso-tray.app/Contents/MacOS/sso-tray")
    autostart.enable("darwin")
    assert LaunchAgent().is_enabled()


# --- under the demo's root ---------------------------------------------------------------------------------


def test_under_a_root_every_entry_stays_in_it_and_the_registry_is_left_alone(home, tmp_path, monkeypatch):
    from tray.ui.icons import save_app_icons

    root = tmp_path / "demo"
    monkeypatch.setenv(paths.ROOT_ENV, str(root))
    autostart.enable("linux", app_icons=save_app_icons)
    assert autostart.describe("linux") == str(root / ".config" / "autostart" / "sso-tray.desktop")
    assert (root / ".local" / "share" / "applications" / "sso-tray.desktop").is_file()
    assert LaunchAgent().path.is_relative_to(root)
    assert not (home / ".config" / "autostart").exists() and not (home / ".local").exists()
    registry = MemoryRegistry()
    with pytest.raises(AwsError, match="demo"):
        RunKey(registry, MemoryRegistry()).enable(["C:\\sso-tray.exe", "run"])
    assert registry.values == {}
