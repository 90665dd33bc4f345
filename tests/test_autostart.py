"""Start at login (SPEC §3 `autostart`): the XDG entry on Linux for real, and the macOS LaunchAgent
and the Windows Run value through the same code, on Linux (plistlib; the registry behind a dict)."""

from __future__ import annotations

import os
import plistlib
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import need_program, run_cli
from tray.core import autostart
from tray.core.autostart import (
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
    GLib = pytest.importorskip("gi.repository.GLib")
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
    text = path.read_text().replace("X-GNOME-Autostart-enabled=true\n", "")
    path.write_text(text + switch + "\n")
    assert not autostart.is_enabled("linux")
    autostart.enable("linux")  # turning it on again from sso-tray rewrites the entry
    assert autostart.is_enabled("linux")


@pytest.mark.parametrize("text", ["", "not a desktop entry\n", "[Other]\nExec=x\n", "\xff\xfe garbage"])
def test_a_malformed_entry_is_off_not_a_crash(home, text):
    path = autostart_file(home)
    path.parent.mkdir(parents=True)
    path.write_bytes(text.encode("latin-1"))
    assert not autostart.is_enabled("linux")


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
    blocker.write_text("")
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
        (folder / name).write_text("")
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
    assert program_command("win32") == [str(scripts / "pythonw.exe"), "-m", "tray", "run"]


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


# --- Windows: the Run value, through the registry interface ---------------------------------------


def test_windows_run_value_round_trip():
    registry = MemoryRegistry({"OneDrive": '"C:\\Program Files\\Microsoft OneDrive\\OneDrive.exe" /background'})
    run = RunKey(registry)
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


def test_windows_through_the_backend_chooser(monkeypatch):
    registry = MemoryRegistry()
    backend = autostart.backend("win32", registry=registry)
    backend.enable(program_command("win32"))
    assert backend.is_enabled()
    assert registry.values["sso-tray"].startswith('"')


def test_the_real_registry_off_windows_is_a_clear_error():
    with pytest.raises(AwsError, match="only there on Windows"):
        autostart.backend("win32").enable(["C:\\sso-tray.exe", "run"])


def test_backend_by_platform():
    assert isinstance(autostart.backend("linux"), XdgAutostart)
    assert isinstance(autostart.backend("freebsd14"), XdgAutostart)
    assert isinstance(autostart.backend("darwin"), LaunchAgent)
    assert isinstance(autostart.backend("win32", registry=MemoryRegistry()), RunKey)


# --- the command: sso-tray autostart on|off|status -------------------------------------------------


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
