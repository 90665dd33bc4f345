"""The running tray: pystray icon + menu drawn from the engine's State, one per user.

The icon is shown before anything else is loaded (the AWS SDK is not imported until an action needs
it); the engine then reads config, tokens and caches and the icon and menu follow its State.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Iterator
from typing import Callable

from tray.core.files import paths
from tray.core.engine.engine import Engine
from tray.core.errors import AwsError
from tray.core.engine.state import State
from tray.ui import platform

log = logging.getLogger(__name__)

NO_MENU_HELP = (
    "no tray backend with a menu is available, so the icon has no menu. Install PyGObject and the "
    "AppIndicator typelib: Debian/Ubuntu `apt install python3-gi gir1.2-ayatanaappindicator3-0.1`, "
    "Fedora `dnf install python3-gobject libayatana-appindicator-gtk3`, Arch `pacman -S python-gobject libayatana-appindicator`"
)


class AlreadyRunning(Exception):
    pass


def single_instance():
    """Hold the per-user tray lock for the life of the process; AlreadyRunning if another tray has it."""
    from filelock import FileLock, Timeout

    from tray.core.files.fileio import private_dir

    folder = private_dir(paths.app_locks_dir())
    lock = FileLock(str(folder / "tray.lock"), mode=0o600)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise AlreadyRunning() from None
    return lock


def session_bus_available() -> bool:
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return False
    try:
        from gi.repository import Gio, GLib

        try:
            Gio.bus_get_sync(Gio.BusType.SESSION, None)
            return True
        except GLib.Error:
            return False
    except ImportError:
        return False


def _has_typelib(namespace: str, version: str) -> bool:
    try:
        import gi

        gi.require_version(namespace, version)
        return True
    except (ImportError, ValueError):
        return False


def choose_backend(bus: bool) -> tuple[str | None, str | None]:
    """(PYSTRAY_BACKEND, a note for the person) for this desktop. macOS and Windows: pystray's own."""
    if not sys.platform.startswith("linux"):
        return None, None
    chosen = os.environ.get("PYSTRAY_BACKEND")
    if chosen:
        return chosen, (NO_MENU_HELP if chosen == "xorg" else None)
    has_gtk = _has_typelib("Gtk", "3.0")
    if bus and has_gtk and (_has_typelib("AyatanaAppIndicator3", "0.1") or _has_typelib("AppIndicator3", "0.1")):
        return "appindicator", None
    if has_gtk:
        return "gtk", None
    return "xorg", NO_MENU_HELP


@contextlib.contextmanager
def _gtk_without_gl() -> Iterator[None]:
    """GTK 3 on X11 sets up OpenGL as it opens the display, to pick visuals for GL drawing that a tray icon
    and its menu never do: the GL driver loads (Mesa's llvmpipe brings all of LLVM), 45 of the tray's
    137 MiB on a virtual display here. `GDK_GL=disable` turns that off; GTK reads it once, when it starts,
    so it is set only while GTK starts and the programs the tray runs (the browser) do not inherit it.
    A GDK_GL of the person's own is left as it is."""
    if not sys.platform.startswith("linux") or "GDK_GL" in os.environ:
        yield
        return
    os.environ["GDK_GL"] = "disable"
    try:
        yield
    finally:
        del os.environ["GDK_GL"]


def _without_dbus_notifications() -> None:
    """pystray's GTK backends open a D-Bus notifier of their own at start, which hangs if there is no
    session bus, and call its hide() at exit, which raises (Quit ends in "internal error") when no
    notification service is running: give them one that does nothing. On Linux sso-tray notifies
    through tray.ui.notify, never through pystray."""
    from pystray._util import notify_dbus

    class Quiet:
        def notify(self, *args, **kwargs):
            pass

        def hide(self):
            pass

    notify_dbus.Notifier = Quiet


class TrayActions:
    """What menu items call: the engine's actions, plus Quit and Start at login."""

    def __init__(self, engine: Engine, quit: Callable[[], None]):
        self._engine = engine
        self.quit = quit
        self.finder = None  # the finder page's server (tray.ui.finder), once the tray has started it
        self.terminals = None  # the credentials endpoint for terminals (tray.ui.terminals), once started

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def set_autostart(self, on: bool):
        from tray.core.osutil import autostart

        def apply():
            autostart.enable(app_icons=platform.app_icons()) if on else autostart.disable()
            self._engine.autostart = autostart.is_enabled()
            self._engine._say("Starts at login." if on else "No longer starts at login.")

        return self._engine._submit(apply)

    def copy_refreshing(self, profile: str, fmt: str | None = None):
        if self.terminals is None:
            return self._engine._say("The credentials endpoint for terminals could not be started (see the tray's output).")
        return self.terminals.copy(profile, fmt)

    def revoke_terminal_tokens(self):
        count = self.terminals.revoke_all() if self.terminals is not None else 0
        if not count:
            return self._engine._say("No terminal tokens to revoke.")
        return self._engine._say(f"Revoked {count} terminal token{'' if count == 1 else 's'}: auto-refreshing lines copied before no longer work.")

    def open_finder(self, text: str | None = None):
        """"Find a role…": the finder page in the default browser, with `text` in its search box."""
        return self._open_page(q=text)

    def open_setup(self):
        """"Set up AWS SSO…": the same page with its setup form open."""
        return self._open_page(setup="1")

    def _open_page(self, **query):
        from tray.ui.finder import open_in_browser

        def apply():
            if self.finder is None:
                raise AwsError(f"the finder page could not be started (see the log: {paths.app_log_file()})")
            open_in_browser(self.finder.ticket_url(**query))  # $BROWSER may run until its window closes

        return self._engine._submit(apply)


class TrayView:
    """The State on the icon: its image, title and menu, each sent to the Surface only when it changed.
    The minute's new time left is a relabel of the menu on screen, not a new menu."""

    def __init__(self, surface, actions, size: int):
        from tray.ui import icons, menu

        self._icons, self._menu = icons, menu
        self.surface, self.actions, self.size = surface, actions, size
        self._shown: dict[str, object] = {}

    def show(self, state: State) -> None:
        menu = self._menu
        changes: dict[str, object] = {}
        session = state.icon_session
        image_key = (state.icon_state, round((session.fraction_left(state.now) if session else 0) * 60), bool(session and session.failing))
        if self._shown.get("image") != image_key:
            changes["icon"] = self._icons.icon_image(state, self.size)
            self._shown["image"] = image_key
        label = menu.indicator_label(state)
        if self._shown.get("label", "") != label:
            changes["label"] = label
            self._shown["label"] = label
        title = menu.tooltip(state)
        if self._shown.get("title") != title:
            changes["title"] = title
            self._shown["title"] = title
        items = menu.build(state, self.actions)
        structure, labels = menu.signature(state, items)
        shown = self._shown.get("menu")
        if shown is None or shown[0] != structure or (shown[1] != labels and not self.surface.can_relabel):
            changes["menu"] = menu.to_pystray(items)
        elif shown[1] != labels:  # the minute's status text: relabelled in place, rebuilt if that cannot be done
            changes["labels"] = (labels, lambda: menu.to_pystray(items))
        self._shown["menu"] = (structure, labels)
        if changes:
            self.surface.update(**changes)


class TrayApp:
    def __init__(self, engine: Engine | None = None):
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise AwsError("no desktop session here (DISPLAY is not set): the tray needs one; every command works without it")
        bus = session_bus_available() if sys.platform.startswith("linux") else False
        backend, self.note = choose_backend(bus)
        if backend:
            os.environ["PYSTRAY_BACKEND"] = backend
        self.backend = backend
        try:
            import PIL  # noqa: F401  first: pystray reports a missing Pillow as "this platform is not supported"

            with _gtk_without_gl():
                import pystray  # starts GTK on Linux
        except ModuleNotFoundError as e:  # installed without the `tray` extra (pystray, Pillow)
            missing = {"PIL": "Pillow"}.get((e.name or "pystray").split(".")[0], e.name)
            raise AwsError(f"the tray needs {missing}, which is not installed: pipx install 'sso-tray[tray]'"
                           " (or pip install 'sso-tray[tray]'); every other command works without it") from None
        except Exception as e:  # Xlib.error.DisplayNameError and friends are not ImportErrors
            raise AwsError(f"cannot open the tray on this desktop ({type(e).__name__}: {e})") from None
        if sys.platform.startswith("linux"):  # sso-tray's own notifier (tray.ui.notify) is the one used here
            _without_dbus_notifications()
        from tray.ui import icons, menu

        self.size = icons.tray_size()
        if sys.platform == "win32":
            from tray.ui import windows

            windows.make_dpi_aware()  # before the first window: afterwards Windows keeps the process unaware
            self.size = windows.small_icon_size()
        self.engine = engine or Engine()
        self.actions = TrayActions(self.engine, self.quit)
        self._start_finder()  # before any menu exists whose items open the page
        self._start_terminals()
        state = self.engine.state
        from tray.ui.lazymenu import native_icon_class
        from tray.ui.surface import Surface

        icon_class = native_icon_class(pystray.Icon, backend)  # submenus filled when opened, on every backend
        if sys.platform == "win32":
            icon_class = windows.icon_class(icon_class)
        self.icon = icon_class("sso-tray", icon=icons.icon_image(state, self.size), title=menu.tooltip(state))
        self.surface = Surface(self.icon, backend)  # from here on, every change of the icon goes through it
        self.engine.notifier = self._make_notifier(bus)
        if sys.platform == "win32":
            windows.route_clicks(self.icon, self.engine.notifier.balloon_clicked)
        self._view = TrayView(self.surface, self.actions, self.size)
        self._render_lock = threading.Lock()
        self.render(state)
        self.engine.subscribe(self.render)

    def _make_notifier(self, bus: bool):
        from tray.ui.notify import DBusNotifier, NullNotifier, PystrayNotifier

        if sys.platform == "darwin":
            from tray.ui.macnotify import mac_notifier

            return mac_notifier()
        if not sys.platform.startswith("linux"):
            return PystrayNotifier(self.icon, self.surface.call)
        if not bus:
            notifier = NullNotifier()
            notifier.reason = "no D-Bus session bus"
            return notifier
        notifier = DBusNotifier()
        return notifier if notifier.available else NullNotifier()

    def render(self, state: State) -> None:
        """Update what changed, and only that: the image, the title, the menu. From any thread: the
        Surface applies the changes on the backend's UI thread.

        The engine calls it on its own thread (and the tray once at start, on the main thread): one at a
        time, and always of the newest state, so that an older snapshot never replaces a newer one."""
        with self._render_lock:
            self._view.show(self.engine.state)

    def _setup(self, icon) -> None:
        from tray.core.osutil import autostart

        self.surface.start()  # pystray's loop runs: changes are posted to it from now on
        self.surface.update(visible=True)
        self.engine.autostart = autostart.is_enabled()
        self.engine.start()

    def _start_finder(self) -> None:
        from tray.ui import finder

        try:
            self.actions.finder = finder.start(self.engine)
        except OSError as e:  # no loopback port, an unwritable cache folder: the tray works without the page
            log.warning("the finder page could not be started: %s", e)

    def _start_terminals(self) -> None:
        from tray.ui.terminals import Terminals

        try:
            self.actions.terminals = Terminals(self.engine).start()
        except OSError as e:  # as for the finder: the tray works without it
            log.warning("the credentials endpoint for terminals could not be started: %s", e)
            return
        if self.actions.finder is not None:
            self.actions.finder.terminals = self.actions.terminals

    def run(self) -> None:
        self._quit_on_sigterm()
        platform.prepare_app()  # macOS: a menu-bar item with no Dock icon, also for a pip/pipx install
        self.icon.run(setup=self._setup)

    def _quit_on_sigterm(self) -> None:
        """SIGTERM (the session ending, `kill`) quits as the menu's Quit does: without this the GTK
        backends die at once, leaving pystray's temporary icon file behind and exiting with -15."""
        if self.backend not in ("appindicator", "gtk"):
            return
        import signal

        from gi.repository import GLib

        def on_sigterm():
            self.quit()
            return GLib.SOURCE_REMOVE

        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, on_sigterm)

    def quit(self) -> None:
        if self.actions.finder is not None:
            from tray.ui import finder

            finder.stop(self.actions.finder)
            self.actions.finder = None
        if self.actions.terminals is not None:
            self.actions.terminals.stop()  # every terminal token dies with the tray
            self.actions.terminals = None
        self.engine.stop()
        self.surface.call(self.icon.stop)


def run() -> int:
    """`sso-tray run`: the tray, once per user. What it has to say goes to its log file (tray.core.files.applog)
    and to stderr where there is one (not under pythonw.exe or the windowed bundle)."""
    from tray.core.files import applog

    try:
        lock = single_instance()
    except AlreadyRunning:
        print("sso-tray: the tray is already running", file=sys.stderr)
        return 0
    applog.start()  # after the lock: a second tray must not rotate the first one's log
    try:
        app = TrayApp()
        if app.note:
            log.warning("%s", app.note)
        app.run()
    finally:
        lock.release()
    return 0
