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
and whose test double is a dict. Files are written with `tray.core.files.fileio.atomic_write`.

Nothing is started now: the entry takes effect at the next login (the person already has a tray running
when they tick "Start at login").

On Linux, turning it on also gives a pip/pipx install what a distribution package would have: an entry in
the applications menu (`$XDG_DATA_HOME/applications/sso-tray.desktop`) and the logo as hicolor icons
(`$XDG_DATA_HOME/icons/hicolor/NxN/apps/sso-tray.png`, drawn by the caller: this room draws nothing);
turning it off removes them again. On Windows, Task Manager's "Startup apps" switch is a separate value
under `...\\Explorer\\StartupApproved\\Run` (REG_BINARY; first byte 02 or 06 = enabled, 03 or 07 =
disabled, then the FILETIME of the change): status honours it, and `on` sets it back to enabled. On macOS
a tray started from a translocated copy (App Translocation runs a quarantined app from a random read-only
folder that is gone after a restart) is refused, because the LaunchAgent would point at nothing.
Under `tray.core.files.paths.use_root` (the demo) the entries go under that folder, and the Windows registry is
left alone.
"""

from __future__ import annotations

import configparser
import os
import plistlib
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, Protocol

from tray.core.files import paths
from tray.core.errors import AwsError
from tray.core.files.fileio import atomic_write
from tray.core.files.paths import APP_NAME

LAUNCH_AGENT_LABEL = "io.github.sso-tray"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
RUN_VALUE = APP_NAME
STARTUP_APPROVED_KEY = r"Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run"
APPROVED = bytes([0x02]) + bytes(11)  # what Task Manager writes when a startup app is enabled

DESKTOP_NAME = "sso-tray"
DESKTOP_COMMENT = "AWS IAM Identity Center sessions and credentials in the system tray"
DESKTOP_CATEGORIES = "Utility;"
DESKTOP_KEYWORDS = "AWS;SSO;Identity Center;credentials;"
TRANSLOCATED = "/AppTranslocation/"
UTF8_MODE = ("-X", "utf8")  # Python's UTF-8 mode, for the Windows commands that start Python itself


# --- the program to start ------------------------------------------------------------------------


def program_command(platform: str | None = None) -> list[str]:
    """The command line that starts this install's tray: the bundle, the console script, or Python.

    A PyInstaller bundle is its own executable. Otherwise the `sso-tray` console script installed next
    to the running Python (a venv's bin/ or Scripts\\, pipx's venv), then one on PATH, then
    `python -m tray`. Paths are absolute: the login session's PATH may not hold ~/.local/bin.
    On Windows a console script would open a console window at every sign-in, so the windowless
    `pythonw.exe` beside the running Python starts `-m tray` instead, in UTF-8 mode (`-X utf8`): without
    it Python reads and writes text in the ANSI code page (cp1252), which cannot hold every name a person
    gives a session or an account. The bundle is built in UTF-8 mode (packaging/).
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
            return [str(pythonw), *UTF8_MODE, "-m", "tray", "run"]
    script = bin_dir / (f"{APP_NAME}.exe" if _is_windows(platform) else APP_NAME)
    if script.is_file():
        return [str(script), "run"]
    on_path = shutil.which(APP_NAME)
    if on_path:
        return [os.path.abspath(on_path), "run"]
    return [os.path.abspath(sys.executable), *(UTF8_MODE if _is_windows(platform) else ()), "-m", "tray", "run"]


def _is_windows(platform: str) -> bool:
    return platform in ("win32", "cygwin")


def _bundle_icon() -> str | None:
    """The logo's PNG inside a Linux bundle (packaging/ puts a hicolor tree next to the executable)."""
    if not getattr(sys, "frozen", False):
        return None
    icon = Path(sys.executable).resolve().parent / "share" / "icons" / "hicolor" / "256x256" / "apps" / f"{APP_NAME}.png"
    return str(icon) if icon.is_file() else None


# --- the interface -------------------------------------------------------------------------------


# Writes the logo as a hicolor icon theme tree into the folder it is given (tray.ui.icons.save_app_icons).
AppIcons = Callable[[Path], object]


class Autostart(Protocol):
    def enable(self, command: list[str], app_icons: AppIcons | None = None) -> None: ...

    def disable(self) -> None: ...

    def is_enabled(self) -> bool: ...

    def describe(self) -> str: ...


def _failed(action: str, where: str, e: OSError) -> AwsError:
    return AwsError(f"cannot {action} {where}: {e.strerror or e}")


# --- Linux and other XDG desktops ----------------------------------------------------------------


def _xdg_dir(variable: str, default: str) -> Path:
    """An XDG base folder; the spec says to ignore a relative value."""
    if paths.root() is not None:
        return paths.root() / default
    value = os.environ.get(variable, "")
    return Path(value) if os.path.isabs(value) else Path(os.path.expanduser("~")) / default


def xdg_autostart_dir() -> Path:
    return _xdg_dir("XDG_CONFIG_HOME", ".config") / "autostart"


def xdg_data_dir() -> Path:
    """Where the applications-menu entry and the hicolor icons of a per-user install go."""
    return _xdg_dir("XDG_DATA_HOME", ".local/share")


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


def desktop_entry(command: list[str], icon: str = APP_NAME, autostart: bool = True) -> str:
    """The autostart entry, or (`autostart=False`) the applications-menu entry: a desktop entry
    (validates with desktop-file-validate) that runs `command`."""
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
        *([] if autostart else [f"Keywords={DESKTOP_KEYWORDS}"]),
        "StartupNotify=false",
        *(["X-GNOME-Autostart-enabled=true"] if autostart else []),
        "",
    ])


class _EntryFile:
    """An autostart entry that is one file: written atomically to turn it on, removed to turn it off."""

    path: Path

    def _write(self, data: bytes | str, path: Path | None = None) -> None:
        path = path or self.path
        try:
            atomic_write(path, data, mode=0o644)
        except OSError as e:
            raise _failed("write", str(path), e) from None

    def _remove(self, path: Path) -> None:
        try:
            path.unlink(missing_ok=True)
        except OSError as e:
            raise _failed("remove", str(path), e) from None

    def disable(self) -> None:
        self._remove(self.path)

    def describe(self) -> str:
        return str(self.path)


class XdgAutostart(_EntryFile):
    """An XDG autostart entry, honoured by GNOME, KDE, Xfce, Cinnamon, MATE, LXQt and others."""

    def __init__(self, folder: Path | None = None, data: Path | None = None):
        self.path = (folder or xdg_autostart_dir()) / f"{APP_NAME}.desktop"
        data = data or xdg_data_dir()
        self.menu_entry = data / "applications" / f"{APP_NAME}.desktop"
        self.icons = data / "icons" / "hicolor"

    def enable(self, command: list[str], app_icons: AppIcons | None = None) -> None:
        icon = _bundle_icon() or APP_NAME
        if app_icons is not None and icon == APP_NAME:
            try:
                app_icons(self.icons)
            except OSError as e:
                raise _failed("write", str(self.icons), e) from None
        self._write(desktop_entry(command, icon, autostart=False), self.menu_entry)
        self._write(desktop_entry(command, icon))

    def disable(self) -> None:
        self._remove(self.path)
        self._remove(self.menu_entry)
        for icon in self.icons.glob(f"*/apps/{APP_NAME}.png"):
            self._remove(icon)

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


def launchd_disabled(listing: str) -> dict[str, bool]:
    """`launchctl print-disabled gui/UID` as {label: disabled}: macOS 13+ says `"label" => disabled` or
    `=> enabled`, earlier ones `=> true` or `=> false`."""
    found = {}
    for label, word in re.findall(r'"([^"]+)"\s*=>\s*(\w+)', listing):
        found[label] = word.lower() in ("disabled", "true")
    return found


def _launchctl(*args: str) -> str | None:
    """launchctl's output, or None where it cannot be asked (not macOS, or it failed)."""
    try:
        done = subprocess.run(["launchctl", *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


class LaunchAgent(_EntryFile):
    """The plist, and launchd's own switch: turning the agent off in System Settings (or `launchctl
    disable`) leaves the plist in place and marks the label disabled, which `print-disabled` lists."""

    def __init__(self, home: Path | None = None, launchctl: Callable[..., str | None] = _launchctl):
        under_root = paths.root()
        home = home or under_root or Path(os.path.expanduser("~"))
        self.path = home / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT_LABEL}.plist"
        self.log = home / "Library" / "Logs" / f"{APP_NAME}.log"
        self._launchctl = None if under_root else launchctl  # the demo leaves launchd alone

    def _domain(self) -> str:
        return f"gui/{os.getuid()}"

    def _disabled_in_launchd(self) -> bool:
        listing = self._launchctl("print-disabled", self._domain()) if self._launchctl else None
        return bool(listing) and launchd_disabled(listing).get(LAUNCH_AGENT_LABEL, False)

    def enable(self, command: list[str], app_icons: AppIcons | None = None) -> None:
        if TRANSLOCATED in command[0]:
            raise AwsError(
                f"sso-tray runs from a copy macOS made for a downloaded app (App Translocation: {command[0]}), which is "
                "gone after the next restart: move sso-tray.app to /Applications, open it from there, then turn this on again")
        self._write(plistlib.dumps(launch_agent(command, self.log)))
        if self._disabled_in_launchd():
            self._launchctl("enable", f"{self._domain()}/{LAUNCH_AGENT_LABEL}")

    def is_enabled(self) -> bool:
        try:
            plist = plistlib.loads(self.path.read_bytes())
        except (OSError, plistlib.InvalidFileException, ValueError):
            return False
        in_plist = isinstance(plist, dict) and bool(plist.get("RunAtLoad")) and not plist.get("Disabled", False)
        return in_plist and not self._disabled_in_launchd()


# --- Windows -------------------------------------------------------------------------------------


class Registry(Protocol):
    """One registry key's values, by name: strings (REG_SZ) and bytes (REG_BINARY)."""

    def get(self, name: str) -> str | bytes | None: ...

    def set(self, name: str, value: str | bytes) -> None: ...

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
        if kind == winreg.REG_BINARY and isinstance(value, bytes):
            return value
        return value if kind in (winreg.REG_SZ, winreg.REG_EXPAND_SZ) and isinstance(value, str) else None

    def set(self, name: str, value: str | bytes) -> None:
        winreg = self._winreg()
        with winreg.CreateKeyEx(winreg.HKEY_CURRENT_USER, self.key, 0, winreg.KEY_SET_VALUE) as key:
            winreg.SetValueEx(key, name, 0, winreg.REG_BINARY if isinstance(value, bytes) else winreg.REG_SZ, value)

    def delete(self, name: str) -> None:
        winreg = self._winreg()
        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, self.key, 0, winreg.KEY_SET_VALUE) as key:
                winreg.DeleteValue(key, name)
        except FileNotFoundError:
            pass


class MemoryRegistry:
    """The registry's test double: the values of one key, in a dict."""

    def __init__(self, values: dict[str, str | bytes] | None = None):
        self.values: dict[str, str | bytes] = dict(values or {})

    def get(self, name: str) -> str | bytes | None:
        return self.values.get(name)

    def set(self, name: str, value: str | bytes) -> None:
        self.values[name] = value

    def delete(self, name: str) -> None:
        self.values.pop(name, None)


def windows_command_line(argv: list[str]) -> str:
    """`argv` as the Run value's command line: the program always in double quotes (a path with spaces,
    e.g. under C:\\Program Files, must not be split), its arguments quoted as the C runtime parses them."""
    program, *args = argv
    return " ".join([f'"{program}"', *([subprocess.list2cmdline(args)] if args else [])])


def approved(value: str | bytes | None) -> bool:
    """Task Manager's switch for a Run value: absent, or a first byte with the low bit clear (02, 06),
    is enabled; 03 or 07 is disabled."""
    return not (isinstance(value, bytes) and value and value[0] & 1)


class RunKey:
    """The Run value, and Task Manager's StartupApproved switch for it (`approved` stands in for that
    key in tests, as `registry` does for the Run key)."""

    def __init__(self, registry: Registry | None = None, approved: Registry | None = None):
        self.registry = registry if registry is not None else WindowsRegistry()
        self.approved = approved if approved is not None else WindowsRegistry(STARTUP_APPROVED_KEY)

    def _refuse_under_a_root(self) -> None:
        if paths.root() is not None:
            raise AwsError(f"not under {paths.ROOT_ENV} (the demo): the Windows startup programs are the real ones")

    def enable(self, command: list[str], app_icons: AppIcons | None = None) -> None:
        self._refuse_under_a_root()
        try:
            self.registry.set(RUN_VALUE, windows_command_line(command))
            if not approved(self.approved.get(RUN_VALUE)):
                self.approved.set(RUN_VALUE, APPROVED)  # switched off in Task Manager: switched on again
        except OSError as e:
            raise _failed("write", self.describe(), e) from None

    def disable(self) -> None:
        self._refuse_under_a_root()
        try:
            self.registry.delete(RUN_VALUE)
            self.approved.delete(RUN_VALUE)
        except OSError as e:
            raise _failed("remove", self.describe(), e) from None

    def is_enabled(self) -> bool:
        try:
            return bool(self.registry.get(RUN_VALUE)) and approved(self.approved.get(RUN_VALUE))
        except OSError:
            return False

    def describe(self) -> str:
        return f"HKCU\\{RUN_KEY}\\{RUN_VALUE}"


# --- the API the CLI and the tray use ------------------------------------------------------------


def backend(platform: str | None = None, *, registry: Registry | None = None, approved: Registry | None = None) -> Autostart:
    """The autostart mechanism of `platform` (default: this one). `registry` and `approved` stand in for
    the Run and StartupApproved keys of the Windows registry in tests."""
    platform = platform or sys.platform
    if _is_windows(platform):
        return RunKey(registry, approved)
    if platform == "darwin":
        return LaunchAgent()
    return XdgAutostart()


def enable(platform: str | None = None, command: list[str] | None = None, app_icons: AppIcons | None = None) -> None:
    """Start sso-tray at every login (`command` defaults to `program_command()`). `app_icons` draws the
    logo into a hicolor folder for the Linux applications menu (tray.ui.icons.save_app_icons)."""
    backend(platform).enable(command or program_command(platform), app_icons)


def disable(platform: str | None = None) -> None:
    backend(platform).disable()


def is_enabled(platform: str | None = None) -> bool:
    return backend(platform).is_enabled()


def describe(platform: str | None = None) -> str:
    """Where the entry is (or would be): a file path, or the registry value."""
    return backend(platform).describe()
