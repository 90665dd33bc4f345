"""Start the tray at login (SPEC §3 `autostart`): one small entry per platform, pointing at the
program that is running now (the PyInstaller bundle, or the installed `sso-tray` console script).

| platform | entry                                                        | read by                     |
|----------|--------------------------------------------------------------|-----------------------------|
| Linux    | `$XDG_CONFIG_HOME/autostart/sso-tray.desktop`                | the desktop's session start |
| macOS    | `~/Library/LaunchAgents/io.github.sso-tray.plist`            | launchd, at the next login  |
| Windows  | `HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run` value `sso-tray` | Explorer, at sign-in |

Each platform is an `Autostart` (enable / disable / is_enabled / describe). Which one applies is a
parameter, so the macOS and Windows code runs in the Linux tests; the Windows registry sits behind
`Registry` (get / set / delete one value), whose real implementation imports `winreg` only when used
and whose test double is a dict. Files are written with `tray.core.fileio.atomic_write`.

Nothing is started now: the entry takes effect at the next login (the person already has a tray running
when they tick "Start at login").
"""

from __future__ import annotations

import configparser
import os
import plistlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Protocol

from tray.core.errors import AwsError
from tray.core.fileio import atomic_write
from tray.core.paths import APP_NAME

LAUNCH_AGENT_LABEL = "io.github.sso-tray"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
RUN_VALUE = APP_NAME

DESKTOP_NAME = "sso-tray"
DESKTOP_COMMENT = "AWS IAM Identity Center sessions and credentials in the system tray"
DESKTOP_CATEGORIES = "Utility;"


# --- the program to start ------------------------------------------------------------------------


def program_command(platform: str | None = None) -> list[str]:
    """The command line that starts this install's tray: the bundle, the console script, or Python.

    A PyInstaller bundle is its own executable. Otherwise the `sso-tray` console script installed next
    to the running Python (a venv's bin/ or Scripts\\, pipx's venv), then one on PATH, then
    `python -m tray`. Paths are absolute: the login session's PATH may not hold ~/.local/bin.
    On Windows a console script would open a console window at every sign-in, so the windowless
    `pythonw.exe` beside the running Python starts `-m tray` instead.
    """
    platform = platform or sys.platform
    if getattr(sys, "frozen", False):
        executable = Path(os.path.abspath(sys.executable))
        if _is_windows(platform) and executable.name.lower() == f"{APP_NAME}-cli.exe":
            # the Windows bundle's console twin: log in to the windowless sso-tray.exe beside it
            windowless = executable.with_name(f"{APP_NAME}.exe")
            if windowless.is_file():
                executable = windowless
        return [str(executable), "run"]
    bin_dir = Path(os.path.abspath(sys.executable)).parent
    if _is_windows(platform):
        pythonw = bin_dir / "pythonw.exe"
        if pythonw.is_file():
            return [str(pythonw), "-m", "tray", "run"]
    script = bin_dir / (f"{APP_NAME}.exe" if _is_windows(platform) else APP_NAME)
    if script.is_file():
        return [str(script), "run"]
    on_path = shutil.which(APP_NAME)
    if on_path:
        return [os.path.abspath(on_path), "run"]
    return [os.path.abspath(sys.executable), "-m", "tray", "run"]


def _is_windows(platform: str) -> bool:
    return platform in ("win32", "cygwin")


def _bundle_icon() -> str | None:
    """The logo's PNG inside a Linux bundle (packaging/ puts a hicolor tree next to the executable)."""
    if not getattr(sys, "frozen", False):
        return None
    icon = Path(sys.executable).resolve().parent / "share" / "icons" / "hicolor" / "256x256" / "apps" / f"{APP_NAME}.png"
    return str(icon) if icon.is_file() else None


# --- the interface -------------------------------------------------------------------------------


class Autostart(Protocol):
    def enable(self, command: list[str]) -> None: ...

    def disable(self) -> None: ...

    def is_enabled(self) -> bool: ...

    def describe(self) -> str: ...


def _failed(action: str, where: str, e: OSError) -> AwsError:
    return AwsError(f"cannot {action} {where}: {e.strerror or e}")


# --- Linux and other XDG desktops ----------------------------------------------------------------


def xdg_autostart_dir() -> Path:
    """`$XDG_CONFIG_HOME/autostart`; the spec says to ignore a relative XDG_CONFIG_HOME."""
    config_home = os.environ.get("XDG_CONFIG_HOME", "")
    base = Path(config_home) if os.path.isabs(config_home) else Path(os.path.expanduser("~/.config"))
    return base / "autostart"


def desktop_exec(argv: list[str]) -> str:
    """`argv` as the value of a desktop entry's Exec key (Desktop Entry Specification, "The Exec key").

    An argument with a reserved character is double-quoted, with `"`, `` ` ``, `$` and `\\` escaped by a
    backslash inside the quotes; `%` is doubled (field codes). The whole value then gets the string
    escapes of every desktop-entry value, so each backslash is written twice more.
    """
    reserved = set(" \t\n\"'\\><~|&;$*?#()`")
    words = []
    for arg in argv:
        arg = arg.replace("%", "%%")
        if arg == "" or any(c in reserved for c in arg):
            arg = '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'
        words.append(arg)
    return " ".join(words).replace("\\", "\\\\")


def desktop_entry(command: list[str], icon: str = APP_NAME) -> str:
    """The autostart entry: a desktop entry (validates with desktop-file-validate) that runs `command`."""
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        f"Name={DESKTOP_NAME}",
        "GenericName=AWS SSO tray",
        f"Comment={DESKTOP_COMMENT}",
        f"Exec={desktop_exec(command)}",
        f"Icon={icon}",
        "Terminal=false",
        f"Categories={DESKTOP_CATEGORIES}",
        "StartupNotify=false",
        "X-GNOME-Autostart-enabled=true",
        "",
    ])


class _EntryFile:
    """An autostart entry that is one file: written atomically to turn it on, removed to turn it off."""

    path: Path

    def _write(self, data: bytes | str) -> None:
        try:
            atomic_write(self.path, data, mode=0o644)
        except OSError as e:
            raise _failed("write", str(self.path), e) from None

    def disable(self) -> None:
        try:
            self.path.unlink(missing_ok=True)
        except OSError as e:
            raise _failed("remove", str(self.path), e) from None

    def describe(self) -> str:
        return str(self.path)


class XdgAutostart(_EntryFile):
    """An XDG autostart entry, honoured by GNOME, KDE, Xfce, Cinnamon, MATE, LXQt and others."""

    def __init__(self, folder: Path | None = None):
        self.path = (folder or xdg_autostart_dir()) / f"{APP_NAME}.desktop"

    def enable(self, command: list[str]) -> None:
        self._write(desktop_entry(command, _bundle_icon() or APP_NAME))

    def is_enabled(self) -> bool:
        """The entry exists and neither `Hidden=true` nor `X-GNOME-Autostart-enabled=false` (what
        GNOME's and KDE's startup settings write when the person turns it off there) switches it off."""
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.optionxform = str  # keys are case-sensitive
        try:
            parser.read_string(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return False
        except (OSError, UnicodeDecodeError, configparser.Error):
            return False
        if not parser.has_section("Desktop Entry"):
            return False
        entry = parser["Desktop Entry"]
        if entry.get("Hidden", "false").strip().lower() == "true":
            return False
        return entry.get("X-GNOME-Autostart-enabled", "true").strip().lower() != "false"


# --- macOS ---------------------------------------------------------------------------------------


def launch_agent(command: list[str], log: Path | None = None) -> dict:
    """The LaunchAgent's property list. KeepAlive is false: launchd starts the tray once per login and
    never restarts it, so Quit stays quit and a tray that cannot start does not loop."""
    plist = {
        "Label": LAUNCH_AGENT_LABEL,
        "ProgramArguments": list(command),
        "RunAtLoad": True,
        "KeepAlive": False,
        "ProcessType": "Interactive",
        "LimitLoadToSessionType": "Aqua",  # the graphical login only, not SSH sessions
    }
    if log is not None:
        plist["StandardOutPath"] = plist["StandardErrorPath"] = str(log)
    return plist


class LaunchAgent(_EntryFile):
    def __init__(self, home: Path | None = None):
        home = home or Path(os.path.expanduser("~"))
        self.path = home / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT_LABEL}.plist"
        self.log = home / "Library" / "Logs" / f"{APP_NAME}.log"

    def enable(self, command: list[str]) -> None:
        self._write(plistlib.dumps(launch_agent(command, self.log)))

    def is_enabled(self) -> bool:
        try:
            plist = plistlib.loads(self.path.read_bytes())
        except (OSError, plistlib.InvalidFileException, ValueError):
            return False
        return isinstance(plist, dict) and bool(plist.get("RunAtLoad")) and not plist.get("Disabled", False)


# --- Windows -------------------------------------------------------------------------------------


class Registry(Protocol):
    """One registry key's string values, by name."""

    def get(self, name: str) -> str | None: ...

    def set(self, name: str, value: str) -> None: ...

    def delete(self, name: str) -> None: ...


class WindowsRegistry:
    """A key under HKEY_CURRENT_USER, through `winreg` (imported on first use, so only on Windows)."""

    def __init__(self, key: str = RUN_KEY):
        self.key = key

    def _winreg(self):
        try:
            import winreg
        except ImportError:
            raise AwsError("the Windows registry is only there on Windows") from None
        return winreg

    def get(self, name: str) -> str | None:
        winreg = self._winreg()
        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, self.key, 0, winreg.KEY_READ) as key:
                value, kind = winreg.QueryValueEx(key, name)
        except FileNotFoundError:
            return None
        return value if kind in (winreg.REG_SZ, winreg.REG_EXPAND_SZ) and isinstance(value, str) else None

    def set(self, name: str, value: str) -> None:
        winreg = self._winreg()
        with winreg.CreateKeyEx(winreg.HKEY_CURRENT_USER, self.key, 0, winreg.KEY_SET_VALUE) as key:
            winreg.SetValueEx(key, name, 0, winreg.REG_SZ, value)

    def delete(self, name: str) -> None:
        winreg = self._winreg()
        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, self.key, 0, winreg.KEY_SET_VALUE) as key:
                winreg.DeleteValue(key, name)
        except FileNotFoundError:
            pass


class MemoryRegistry:
    """The registry's test double: the values of one key, in a dict."""

    def __init__(self, values: dict[str, str] | None = None):
        self.values: dict[str, str] = dict(values or {})

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def set(self, name: str, value: str) -> None:
        self.values[name] = value

    def delete(self, name: str) -> None:
        self.values.pop(name, None)


def windows_command_line(argv: list[str]) -> str:
    """`argv` as the Run value's command line: the program always in double quotes (a path with spaces,
    e.g. under C:\\Program Files, must not be split), its arguments quoted as the C runtime parses them."""
    program, *args = argv
    return " ".join([f'"{program}"', *([subprocess.list2cmdline(args)] if args else [])])


class RunKey:
    def __init__(self, registry: Registry | None = None):
        self.registry = registry if registry is not None else WindowsRegistry()

    def enable(self, command: list[str]) -> None:
        try:
            self.registry.set(RUN_VALUE, windows_command_line(command))
        except OSError as e:
            raise _failed("write", self.describe(), e) from None

    def disable(self) -> None:
        try:
            self.registry.delete(RUN_VALUE)
        except OSError as e:
            raise _failed("remove", self.describe(), e) from None

    def is_enabled(self) -> bool:
        try:
            return bool(self.registry.get(RUN_VALUE))
        except OSError:
            return False

    def describe(self) -> str:
        return f"HKCU\\{RUN_KEY}\\{RUN_VALUE}"


# --- the API the CLI and the tray use ------------------------------------------------------------


def backend(platform: str | None = None, *, registry: Registry | None = None) -> Autostart:
    """The autostart mechanism of `platform` (default: this one). `registry` stands in for the Windows
    registry in tests."""
    platform = platform or sys.platform
    if _is_windows(platform):
        return RunKey(registry)
    if platform == "darwin":
        return LaunchAgent()
    return XdgAutostart()


def enable(platform: str | None = None, command: list[str] | None = None) -> None:
    """Start sso-tray at every login (`command` defaults to `program_command()`)."""
    backend(platform).enable(command or program_command(platform))


def disable(platform: str | None = None) -> None:
    backend(platform).disable()


def is_enabled(platform: str | None = None) -> bool:
    return backend(platform).is_enabled()


def describe(platform: str | None = None) -> str:
    """Where the entry is (or would be): a file path, or the registry value."""
    return backend(platform).describe()
