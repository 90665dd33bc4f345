"""A real Linux desktop for tests, made of Debian packages, with nothing shared with the machine's own:

- Xvfb on a display it picks itself (`-displayfd`), so parallel desktops never collide;
- a private session bus (`dbus-daemon --session`-like, from a config file of our own) started with DISPLAY
  set, whose only service is the notification daemon: dunst, D-Bus-activated on *this* display with a
  config that logs every notification it receives (dunst keeps only closed ones in its history);
- trayer, a freedesktop system tray, docked at the top right;
- helpers to drive and read the tray the way a person would: screenshots, the AppIndicator menu over
  D-Bus (com.canonical.dbusmenu), a real mouse click on the icon (xdotool), notifications (dunstctl),
  the clipboard (xclip).

`VirtualDesktop(workdir, bus=False)` has no session bus at all; `notifications=False` gives a bus on
which nothing provides org.freedesktop.Notifications. Every program is looked up with
`conftest.need_program`, so in CI (CI=true) a missing one fails the test instead of skipping it.

Every process of the desktop, and everything those start (dunst, the tray, its xclip and clipboard
helper, the browser), carries a marker in its environment; `stop()` ends exactly those, by PID.
Child output always goes to files: xclip keeps inherited pipes open.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from conftest import ROOT, need_program

T = TypeVar("T")

MARKER = "SSO_TRAY_TEST_DESKTOP"
SCREEN = "1024x768x24"
PANEL_HEIGHT = 32
MENU_INTERFACE = "com.canonical.dbusmenu"
INDICATOR_ROOT = "/org/ayatana/NotificationItem"


class DesktopError(AssertionError):
    pass


def wait_for(predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.1, what: str = "the condition") -> T:
    """Poll `predicate` until it returns something truthy, and return that; DesktopError after `timeout`.
    An exception from the predicate counts as "not yet" (the last one is reported)."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:  # noqa: BLE001 - "not yet"
            last_error = e
        if time.monotonic() > deadline:
            detail = f" (last error: {type(last_error).__name__}: {last_error})" if last_error else ""
            raise DesktopError(f"timed out after {timeout:g} s waiting for {what}{detail}")
        time.sleep(interval)


# --- the menu as the tray publishes it on D-Bus ----------------------------------------------------------


@dataclass
class MenuNode:
    """One com.canonical.dbusmenu item: what a screen reader or a panel applet sees."""

    id: int
    label: str
    enabled: bool = True
    visible: bool = True
    type: str = "standard"  # or "separator"
    toggle_type: str = ""  # "", "checkmark" or "radio"
    toggle_state: int = -1  # 1 on, 0 off, -1 not a toggle
    children: list["MenuNode"] = field(default_factory=list)

    @property
    def is_separator(self) -> bool:
        return self.type == "separator"

    @property
    def checked(self) -> bool | None:
        return None if not self.toggle_type else self.toggle_state == 1

    def labels(self) -> list[str]:
        """The labels of the children that are shown (separators as "-")."""
        return ["-" if c.is_separator else c.label for c in self.children if c.visible]

    def child(self, label: str) -> "MenuNode":
        for c in self.children:
            if c.visible and not c.is_separator and c.label == label:
                return c
        raise KeyError(f"no item {label!r} among {self.labels()}")

    def find(self, *labels: str) -> "MenuNode":
        node = self
        for label in labels:
            node = node.child(label)
        return node

    def path_to(self, *labels: str) -> list["MenuNode"]:
        nodes, node = [], self
        for label in labels:
            node = node.child(label)
            nodes.append(node)
        return nodes

    def walk(self, depth: int = 0) -> Iterator[tuple[int, "MenuNode"]]:
        for c in self.children:
            yield depth, c
            yield from c.walk(depth + 1)

    def dump(self) -> str:
        """The tree as indented text (for assertion messages)."""
        lines = []
        for depth, node in self.walk():
            flags = "" if node.enabled else " [disabled]"
            if node.toggle_type:
                flags += f" [{node.toggle_type}={'on' if node.toggle_state == 1 else 'off'}]"
            lines.append("  " * depth + ("-----" if node.is_separator else node.label) + flags)
        return "\n".join(lines)


def _unmnemonic(label: str) -> str:
    """dbusmenu labels use GTK's mnemonic syntax: `__` is a literal underscore, a single `_` marks the key."""
    return re.sub(r"_(.)", r"\1", label)


def _node(raw) -> MenuNode:
    item_id, props, children = raw
    toggle_state = props.get("toggle-state", -1)
    return MenuNode(
        id=item_id,
        label=_unmnemonic(props.get("label", "")),
        enabled=props.get("enabled", True),
        visible=props.get("visible", True),
        type=props.get("type", "standard"),
        toggle_type=props.get("toggle-type", ""),
        toggle_state=toggle_state,
        children=[_node(c) for c in children],
    )


class Bus:
    """A client connection to the desktop's private session bus (Gio, synchronous calls only)."""

    def __init__(self, address: str):
        from gi.repository import Gio, GLib

        self.Gio, self.GLib = Gio, GLib
        flags = Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION
        self.conn = Gio.DBusConnection.new_for_address_sync(address, flags, None, None)

    def call(self, dest: str, path: str, iface: str, method: str, args: tuple | None = None, signature: str | None = None,
             reply: str | None = None, timeout_ms: int = 5000):
        GLib = self.GLib
        params = GLib.Variant(f"({signature})", args) if signature else None
        result = self.conn.call_sync(dest, path, iface, method, params,
                                     GLib.VariantType.new(reply) if reply else None,
                                     self.Gio.DBusCallFlags.NO_AUTO_START, timeout_ms, None)
        return result.unpack() if result is not None else None

    def names(self) -> list[str]:
        return self.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "ListNames", reply="(as)")[0]

    def pid_of(self, name: str) -> int | None:
        try:
            return self.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                             "GetConnectionUnixProcessID", (name,), "s", "(u)")[0]
        except Exception:  # noqa: BLE001 - the name went away meanwhile
            return None

    def name_of_pid(self, pid: int) -> str | None:
        for name in self.names():
            if name.startswith(":") and self.pid_of(name) == pid:
                return name
        return None

    def has_owner(self, name: str) -> bool:
        return self.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                         "NameHasOwner", (name,), "s", "(b)")[0]

    def close(self) -> None:
        try:
            self.conn.close_sync(None)
        except Exception:  # noqa: BLE001
            pass


class DBusMenu:
    """The tray's menu as AppIndicator exports it: read the tree, click items by their labels."""

    def __init__(self, bus: Bus, name: str, path: str):
        self.bus, self.name, self.path = bus, name, path

    def _call(self, method: str, args=None, signature=None, reply=None):
        return self.bus.call(self.name, self.path, MENU_INTERFACE, method, args, signature, reply)

    def layout(self, depth: int = -1) -> MenuNode:
        """The tree (`depth` levels below the root; -1: all of it)."""
        _revision, root = self._call("GetLayout", (0, depth, []), "iias", "(u(ia{sv}av))")
        return _node(root)

    def about_to_show(self, item_id: int) -> None:
        try:
            self._call("AboutToShow", (item_id,), "i", "(b)")
        except Exception:  # noqa: BLE001 - optional in the protocol
            pass

    def subtree(self, item_id: int, depth: int = -1) -> MenuNode:
        """One item and what is below it, as `GetLayout(item_id, …)` returns them."""
        _revision, node = self._call("GetLayout", (item_id, depth, []), "iias", "(u(ia{sv}av))")
        return _node(node)

    def open(self, *labels: str) -> MenuNode:
        """Open the submenus along `labels` as a panel does: AboutToShow on each, then read it again, so
        that a submenu the tray makes only when it is opened (tray.ui.lazymenu) has its items. The last
        node, with its submenu (if any) as it is once opened."""
        self.about_to_show(0)
        node = self.layout()
        for label in labels:
            node = node.child(label)
            if node.children:
                self.about_to_show(node.id)
                node = self.subtree(node.id)
        return node

    def click(self, *labels: str) -> MenuNode:
        """Open each submenu on the way (AboutToShow), then send `clicked` to the last item, as a panel
        applet does when the person clicks it. Refuses a disabled item (dbusmenu would still fire it)."""
        target = self.open(*labels[:-1]).child(labels[-1])
        if not target.enabled:
            raise DesktopError(f"menu item {' → '.join(labels)} is disabled")
        GLib = self.bus.GLib
        self._call("Event", (target.id, "clicked", GLib.Variant("i", 0), int(time.time()) & 0xFFFFFFFF), "isvu")
        return target


# --- processes -------------------------------------------------------------------------------------------


def _environ_of(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    out = {}
    for entry in raw.split(b"\0"):
        key, sep, value = entry.partition(b"=")
        if sep:
            out[key.decode(errors="replace")] = value.decode(errors="replace")
    return out


def marked_pids(marker: str) -> list[int]:
    """PIDs of every process whose environment carries this desktop's marker."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            if _environ_of(int(entry.name)).get(MARKER) == marker:
                found.append(int(entry.name))
    return found


def _end(pids: list[int], grace: float = 3.0) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    for pid in pids:
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists() and _state(pid) not in ("Z", None):
            time.sleep(0.05)
        try:
            if _state(pid) not in ("Z", None):
                os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def proc_status(pid: int, key: str) -> int:
    """A `kB` figure from /proc/PID/status (VmRSS, VmHWM, …), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class TrayProcess:
    """`python -m tray run` as a person's session starts it; output to files."""

    def __init__(self, desktop: "VirtualDesktop", env: dict[str, str], logdir: Path, name: str = "tray", args=("run",)):
        self.desktop = desktop
        logdir.mkdir(parents=True, exist_ok=True)
        self.stdout_path = logdir / f"{name}.stdout"
        self.stderr_path = logdir / f"{name}.stderr"
        self.started = time.monotonic()
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "tray", *args], env=env, cwd=str(ROOT),
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        self.pid = self.proc.pid
        self._menu: DBusMenu | None = None

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace", encoding="utf-8")

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace", encoding="utf-8")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def menu(self, timeout: float = 15.0) -> DBusMenu:
        """The dbusmenu this process publishes (AppIndicator backend), once it is on the bus."""
        if self._menu is None:
            def find():
                if not self.alive():
                    raise DesktopError(f"the tray exited with {self.proc.returncode}: {self.stderr[-2000:]}")
                return self.desktop.find_menu(self.pid)
            self._menu = wait_for(find, timeout, 0.05, "the tray's menu on D-Bus")
        return self._menu

    def layout(self, depth: int = -1) -> MenuNode:
        return self.menu().layout(depth)

    def wait_menu(self, predicate: Callable[[MenuNode], object], timeout: float = 15.0, what: str = "the menu",
                  depth: int = -1) -> MenuNode:
        """Wait until predicate(layout) holds; the last layout is shown when it never does."""
        seen: list[MenuNode] = []

        def check():
            if not self.alive():
                raise DesktopError(f"the tray exited with {self.proc.returncode}: {self.stderr[-2000:]}")
            layout = self.layout(depth)
            seen[:] = [layout]
            return layout if predicate(layout) else None
        try:
            return wait_for(check, timeout, 0.1, what)
        except DesktopError as e:
            shown = seen[0].dump() if seen else "(no menu)"
            raise DesktopError(f"{e}\nlast menu:\n{shown}\ntray stderr:\n{self.stderr[-2000:]}") from None

    def click(self, *labels: str) -> MenuNode:
        return self.menu().click(*labels)

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM, as a session ends it; SIGKILL if it has not gone within `timeout`."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


# --- the desktop -----------------------------------------------------------------------------------------

DBUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <servicedir>{services}</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

DUNSTRC = """[global]
    monitor = 0
    markup = full
    follow = none
    width = 360
    origin = top-left
    offset = 10x40
    font = Monospace 9
    history_length = 100
    sticky_history = yes
    always_run_script = true
    show_indicators = yes
    browser = /bin/true
    dmenu = /bin/true

[urgency_low]
    timeout = 10
[urgency_normal]
    timeout = 10
[urgency_critical]
    timeout = 0

[sso_tray_test_log]
    summary = "*"
    script = {script}
"""

DUNST_LOG_SCRIPT = """#!{python}
# dunst runs this for every notification: one JSON line per notification in the log.
import json, os, sys
entry = {{k[6:].lower(): v for k, v in os.environ.items() if k.startswith("DUNST_")}}
entry["argv"] = sys.argv[1:]
with open({log!r}, "a") as f:
    f.write(json.dumps(entry) + "\\n")
"""


class VirtualDesktop:
    def __init__(self, workdir: Path, *, bus: bool = True, notifications: bool = True, panel: bool = True,
                 screen: str = SCREEN):
        self.workdir = Path(workdir)
        self.want_bus, self.want_notifications, self.want_panel = bus, notifications and bus, panel
        self.screen = screen
        self.marker = secrets.token_hex(8)
        self.display: str | None = None
        self.bus_address: str | None = None
        self._procs: list[subprocess.Popen] = []
        self._bus: Bus | None = None
        self.notification_log = self.workdir / "notifications.jsonl"
        self._forgotten: set[str] = set()

    # -- lifecycle --

    def __enter__(self) -> "VirtualDesktop":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _popen(self, argv: list[str], log: str, env: dict | None = None, **kwargs) -> subprocess.Popen:
        with open(self.workdir / f"{log}.log", "ab") as out:
            proc = subprocess.Popen(argv, env=env or self.env, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, **kwargs)
        self._procs.append(proc)
        return proc

    def start(self) -> "VirtualDesktop":
        self.workdir.mkdir(parents=True, exist_ok=True)
        need_program("xwininfo")
        self._start_x()
        if self.want_bus:
            self._start_bus()
        if self.want_panel:
            need_program("trayer")
            self._popen(["trayer", "--edge", "top", "--align", "right", "--widthtype", "request",
                         "--height", str(PANEL_HEIGHT), "--SetDockType", "true", "--transparent", "true",
                         "--alpha", "0", "--tint", "0xdcdcdc", "--expand", "true", "--padding", "2"], "trayer")
            wait_for(self.panel_window, 10, 0.05, "trayer's window")
        return self

    def _start_x(self) -> None:
        need_program("Xvfb")
        read, write = os.pipe()
        try:
            self._popen(["Xvfb", "-displayfd", str(write), "-screen", "0", self.screen, "-nolisten", "tcp", "-noreset"],
                        "xvfb", env={**os.environ, MARKER: self.marker}, pass_fds=(write,))
        finally:
            os.close(write)
        with os.fdopen(read) as f:
            number = f.readline().strip()
        if not number.isdigit():
            raise DesktopError(f"Xvfb did not start: {(self.workdir / 'xvfb.log').read_text(encoding='utf-8')[-2000:]}")
        self.display = f":{number}"

    def _start_bus(self) -> None:
        need_program("dbus-daemon")
        services = self.workdir / "dbus-services"
        services.mkdir(exist_ok=True)
        if self.want_notifications:
            dunst = need_program("dunst")
            need_program("dunstctl")
            script = self.workdir / "dunst-log.py"
            script.write_text(DUNST_LOG_SCRIPT.format(python=sys.executable, log=str(self.notification_log)), encoding="utf-8")
            script.chmod(0o755)
            rc = self.workdir / "dunstrc"
            rc.write_text(DUNSTRC.format(script=script), encoding="utf-8")
            (services / "org.freedesktop.Notifications.service").write_text(
                f"[D-BUS Service]\nName=org.freedesktop.Notifications\nExec={dunst} -config {rc}\n", encoding="utf-8")
        config = self.workdir / "session-bus.conf"
        config.write_text(DBUS_CONFIG.format(services=services), encoding="utf-8")
        read, write = os.pipe()
        try:
            # DISPLAY in the bus's environment: the services it starts (dunst) use this display
            self._popen(["dbus-daemon", f"--config-file={config}", "--nofork", "--nopidfile", f"--print-address={write}"],
                        "dbus", env=self._base_env(), pass_fds=(write,))
        finally:
            os.close(write)
        with os.fdopen(read) as f:
            address = f.readline().strip()
        if not address:
            raise DesktopError(f"dbus-daemon did not start: {(self.workdir / 'dbus.log').read_text(encoding='utf-8')[-2000:]}")
        self.bus_address = address
        self._bus = Bus(address)

    def stop(self) -> None:
        if self._bus is not None:
            self._bus.close()
            self._bus = None
        # everything that carries the marker: the desktop's processes and whatever they started
        _end([p for p in marked_pids(self.marker) if not any(p == proc.pid for proc in self._procs)])
        for proc in reversed(self._procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        self._procs.clear()
        _end(marked_pids(self.marker), grace=1.0)

    # -- environment for children --

    def _base_env(self) -> dict[str, str]:
        env = dict(os.environ)
        for var in ("DBUS_SESSION_BUS_ADDRESS", "WAYLAND_DISPLAY", "XAUTHORITY", "DESKTOP_SESSION",
                    "XDG_CURRENT_DESKTOP", "XDG_SESSION_TYPE"):
            env.pop(var, None)
        env.update({"DISPLAY": self.display or "", "NO_AT_BRIDGE": "1", MARKER: self.marker})
        return env

    @property
    def env(self) -> dict[str, str]:
        """The desktop's variables on top of the current process's environment (read now, so that a test's
        HOME, AWS_* and BROWSER settings are included)."""
        env = self._base_env()
        if self.bus_address:
            env["DBUS_SESSION_BUS_ADDRESS"] = self.bus_address
        return env

    @property
    def bus(self) -> Bus:
        if self._bus is None:
            raise DesktopError("this desktop has no session bus")
        return self._bus

    def run(self, *argv: str, timeout: float = 15, check: bool = True) -> str:
        """A short command on the desktop (xdotool, xwininfo, dunstctl, …); its stdout. Output via a file:
        anything that forks into the background (xclip) must not hold a pipe of ours."""
        out_path = self.workdir / "cmd.out"
        with open(out_path, "wb") as out, open(self.workdir / "cmd.err", "wb") as err:
            proc = subprocess.run(list(argv), env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, timeout=timeout)
        text = out_path.read_text(errors="replace", encoding="utf-8")
        if check and proc.returncode != 0:
            raise DesktopError(f"{argv} exited {proc.returncode}: {(self.workdir / 'cmd.err').read_text(encoding='utf-8')[-1000:]}")
        return text

    # -- the tray --

    def start_tray(self, logdir: Path, env: dict[str, str] | None = None, name: str = "tray", args=("run",)) -> TrayProcess:
        return TrayProcess(self, env if env is not None else self.env, logdir, name, args)

    def find_menu(self, pid: int) -> DBusMenu | None:
        """The dbusmenu of the process `pid` (AppIndicator publishes it under its unique bus name)."""
        name = self.bus.name_of_pid(pid)
        if name is None:
            return None
        try:
            xml = self.bus.call(name, INDICATOR_ROOT, "org.freedesktop.DBus.Introspectable", "Introspect", reply="(s)")[0]
        except Exception:  # noqa: BLE001 - not exported yet
            return None
        for node in re.findall(r'<node name="([^"]+)"', xml):
            path = f"{INDICATOR_ROOT}/{node}/Menu"
            try:
                self.bus.call(name, path, "org.freedesktop.DBus.Properties", "Get", (MENU_INTERFACE, "Version"), "ss", "(v)")
            except Exception:  # noqa: BLE001
                continue
            return DBusMenu(self.bus, name, path)
        return None

    # -- the screen --

    def screenshot(self, path: Path | None = None):
        """The whole screen as a PIL image (ImageMagick's `import -window root`); saved at `path` if given."""
        from PIL import Image

        need_program("import")
        target = Path(path) if path else self.workdir / "screen.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        self.run("import", "-display", self.display, "-window", "root", f"png:{target}")
        with Image.open(target) as image:
            return image.convert("RGB")

    def panel_window(self) -> tuple[int, int, int, int, int] | None:
        """(window id, x, y, width, height) of trayer's panel."""
        tree = self.run("xwininfo", "-display", self.display, "-root", "-tree", check=False)
        for line in tree.splitlines():
            m = re.match(r'\s*(0x[0-9a-f]+) "panel": \("panel" "trayer"\)\s+(\d+)x(\d+)\+-?\d+\+-?\d+\s+\+(-?\d+)\+(-?\d+)', line)
            if m:
                wid, w, h, x, y = m.groups()
                return int(wid, 16), int(x), int(y), int(w), int(h)
        return None

    def panel_box(self) -> tuple[int, int, int, int]:
        _wid, x, y, w, h = wait_for(self.panel_window, 5, 0.05, "trayer's window")
        return x, y, x + w, y + h

    def tray_icons(self) -> list[tuple[int, int, int, int]]:
        """Boxes (x0, y0, x1, y1) of the icons docked in trayer (the XEmbed windows inside it)."""
        wid, *_ = wait_for(self.panel_window, 5, 0.05, "trayer's window")
        tree = self.run("xwininfo", "-display", self.display, "-id", hex(wid), "-tree", check=False)
        boxes = []
        for line in tree.splitlines():
            m = re.match(r'\s*0x[0-9a-f]+ (?:"[^"]*"|\(has no name\)):?.*?\s(\d+)x(\d+)\+-?\d+\+-?\d+\s+\+(-?\d+)\+(-?\d+)\s*$', line)
            if m and line.startswith("        ") and not line.startswith("          "):
                w, h, x, y = map(int, m.groups())
                if 8 <= w <= 128 and 8 <= h <= 128:
                    boxes.append((x, y, x + w, y + h))
        return boxes

    def popup_windows(self) -> list[tuple[int, int, int, int]]:
        """Boxes of the shown (mapped) top-level windows other than the panel and dunst: an open menu."""
        tree = self.run("xwininfo", "-display", self.display, "-root", "-children", check=False)
        boxes = []
        for line in tree.splitlines():
            m = re.match(r'\s*(0x[0-9a-f]+) (.*?)\s+(\d+)x(\d+)\+-?\d+\+-?\d+\s+\+(-?\d+)\+(-?\d+)\s*$', line)
            if not m or "trayer" in m.group(2) or "Dunst" in m.group(2):
                continue
            w, h, x, y = map(int, m.groups()[2:])
            if w > 40 and h > 40 and x >= 0 and y >= 0:
                info = self.run("xwininfo", "-display", self.display, "-id", m.group(1), check=False)
                if "IsViewable" in info:
                    boxes.append((x, y, x + w, y + h))
        return boxes

    def panel_image(self, screen=None):
        """The panel's part of a screenshot."""
        screen = screen or self.screenshot()
        return screen.crop(self.panel_box())

    def click_icon(self, button: int = 1) -> None:
        """A real mouse click on the (first) docked icon."""
        need_program("xdotool")
        icons = wait_for(self.tray_icons, 10, 0.1, "an icon docked in trayer")
        x0, y0, x1, y1 = icons[0]
        self.run("xdotool", "mousemove", str((x0 + x1) // 2), str((y0 + y1) // 2), "sleep", "0.1", "click", str(button))

    def press(self, key: str) -> None:
        need_program("xdotool")
        self.run("xdotool", "key", key)

    def move_mouse(self, x: int, y: int) -> None:
        need_program("xdotool")
        self.run("xdotool", "mousemove", str(x), str(y))

    # -- clipboard and notifications --

    def end_processes(self, **environment: str) -> None:
        """End the processes of this desktop whose environment has these values too (e.g. a test's HOME):
        what one tray left behind (xclip, the clipboard-clearing helper, a browser)."""
        keep = {proc.pid for proc in self._procs}
        _end([pid for pid in marked_pids(self.marker) if pid not in keep
              and all(_environ_of(pid).get(k) == v for k, v in environment.items())])

    def clipboard(self) -> str:
        need_program("xclip")
        return self.run("xclip", "-display", self.display, "-selection", "clipboard", "-o", check=False)

    def notifications(self) -> list[dict]:
        return [n for n in self._all_notifications() if n["id"] not in self._forgotten]

    def _all_notifications(self) -> list[dict]:
        """Every notification the daemon received (newest last): id, appname, summary, body, urgency, and
        `closed` (True once it is in dunst's history). dunst lists only closed ones in `dunstctl history`,
        so the shown ones come from the log its rule script writes."""
        seen: dict[str, dict] = {}
        if self.notification_log.exists():
            for line in self.notification_log.read_text(encoding="utf-8").splitlines():
                entry = json.loads(line)
                seen[entry.get("id", str(len(seen)))] = {
                    "id": entry.get("id"), "appname": entry.get("app_name"), "summary": entry.get("summary"),
                    "body": entry.get("body"), "urgency": entry.get("urgency"), "closed": False}
        if self._bus is not None and self.bus.has_owner("org.freedesktop.Notifications"):
            history = json.loads(self.run("dunstctl", "history", check=False) or '{"data": [[]]}')
            for entry in history.get("data", [[]])[0]:
                nid = str(entry["id"]["data"])
                item = seen.setdefault(nid, {"id": nid, "appname": entry["appname"]["data"], "summary": entry["summary"]["data"],
                                             "body": entry["body"]["data"], "urgency": entry.get("urgency", {}).get("data")})
                item["closed"] = True
        return list(seen.values())

    def shown_text(self, nid: str) -> str:
        """What dunst shows of notification `nid`, as a person reads it: its message (summary, then body) with the
        markup dunst found in it applied by Pango, so a tag it took for formatting is gone and an escaped one
        reads as written. Closes the notification (dunst keeps the message of closed ones only)."""
        import gi

        gi.require_version("Pango", "1.0")
        from gi.repository import Pango

        self.run("dunstctl", "close-all", check=False)

        def message():
            history = json.loads(self.run("dunstctl", "history", check=False) or '{"data": [[]]}')
            return next((e["message"]["data"] for e in history.get("data", [[]])[0] if str(e["id"]["data"]) == nid), None)

        _ok, _attributes, text, _accel = Pango.parse_markup(wait_for(message, 5, 0.05, f"notification {nid} in the history"), -1, "\0")
        return text

    def notifications_shown(self) -> int:
        return int(self.run("dunstctl", "count", "displayed", check=False).strip() or 0)

    def invoke_action(self, position: int = 0) -> None:
        """What a click on the shown notification at `position` (0 = top) does: its default action."""
        self.run("dunstctl", "action", str(position))

    def clear_notifications(self) -> None:
        """Close the shown notifications and forget every one received so far (dunst 1.9 cannot clear its history)."""
        if self._bus is not None and self.bus.has_owner("org.freedesktop.Notifications"):
            self.run("dunstctl", "close-all", check=False)
        self._forgotten |= {n["id"] for n in self._all_notifications()}


# --- images --------------------------------------------------------------------------------------------


def colour_pixels(image, colour: tuple[int, int, int], tolerance: int = 40) -> int:
    """How many pixels of `image` are within `tolerance` (per channel) of `colour`."""
    r0, g0, b0 = colour[:3]
    return sum(1 for r, g, b in rgb_pixels(image)
               if abs(r - r0) <= tolerance and abs(g - g0) <= tolerance and abs(b - b0) <= tolerance)


def rgb_pixels(image) -> list[tuple[int, int, int]]:
    data = image.convert("RGB").tobytes()
    return list(zip(data[0::3], data[1::3], data[2::3]))


def save_scaled(image, path: Path, factor: int = 4) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST).save(path)
    return path
