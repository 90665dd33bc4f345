"""Every change of the tray icon arrives on the thread that runs the icon's loop, by construction.

macOS kills a process that touches NSStatusItem off the main thread, and a Win32 menu belongs to the
thread that made it; neither can be run here. So the real TrayApp drives a recording stand-in for pystray's
Icon: the same attributes and methods as `pystray._base.Icon` (it is one), noting the thread of every call,
whose `run()` runs a GLib main loop on the calling thread exactly as pystray's GTK backends do (and is posted
to the same way, `GLib.idle_add`). The real Engine is then driven from many threads against the simulator:
sign-in, account listing, the minute's tick on a fake clock, a fault (Identity Center gone) and its
recovery, renewal of the token, settings changes, Quit.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from desktop import wait_for

class FakeClock:
    def __init__(self):
        self._now = datetime.now(timezone.utc)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now += delta


def recording_icon_class():
    """A pystray Icon that records (what, thread name) for every call that changes what it shows (its
    setters and methods, the backend's hooks, and the menu on screen's labels) and runs a GLib loop."""
    from gi.repository import GLib
    from pystray import _base

    def setter(name):
        prop = getattr(_base.Icon, name)

        def fset(self, value):
            self._note(name)
            prop.fset(self, value)
        return property(prop.fget, fset)

    def method(name):
        def call(self, *args, **kwargs):
            self._note(name)
            return getattr(_base.Icon, name)(self, *args, **kwargs)
        return call

    class MenuItem:
        """A top-level item of the menu on screen, with the two methods of Gtk.MenuItem a relabel uses."""

        def __init__(self, icon, text):
            self.icon, self.text = icon, text

        def get_label(self):
            self.icon._note("get_label")
            return self.text

        def set_label(self, text):
            self.icon._note("set_label")
            self.text = text

    class MenuHandle:
        """The menu on screen, as pystray's GTK backends keep it in `_menu_handle` (a Gtk.Menu)."""

        def __init__(self, icon, texts):
            self.items = [MenuItem(icon, t) for t in texts]

        def get_children(self):
            return list(self.items)

        def texts(self):
            return [i.text for i in self.items]

    class RecordingIcon(_base.Icon):
        def __init__(self, *args, **kwargs):
            self.calls: list[tuple[str, str]] = []
            self._loop = None
            self._menu_handle = None
            super().__init__(*args, **kwargs)

        def _note(self, what: str) -> None:
            self.calls.append((what, threading.current_thread().name))

        icon, title, menu, visible = (setter(n) for n in ("icon", "title", "menu", "visible"))
        update_menu, notify, remove_notification, stop = (method(n) for n in ("update_menu", "notify", "remove_notification", "stop"))

        # what a backend implements, as pystray's GTK backends do it (without the widgets)
        def _show(self):
            self._note("_show")

        def _hide(self):
            self._note("_hide")

        def _update_icon(self):
            self._note("_update_icon")
            self._icon_valid = True

        def _update_title(self):
            self._note("_update_title")

        def _update_menu(self):
            self._note("_update_menu")
            self._menu_handle = MenuHandle(self, [item.text for item in self.menu]) if self.menu else None

        def _notify(self, message, title=None):
            self._note("_notify")

        def _remove_notification(self):
            self._note("_remove_notification")

        def _run(self):
            self._loop = GLib.MainLoop.new(None, False)
            self._mark_ready()
            self._loop.run()

        def _stop(self):
            self._note("_stop")
            GLib.idle_add(lambda: self._loop.quit() or GLib.SOURCE_REMOVE)

    return RecordingIcon


def token(home: Path) -> dict:
    import hashlib

    return json.loads((home / ".aws" / "sso" / "cache" / (hashlib.sha1(b"dev").hexdigest() + ".json")).read_text(encoding="utf-8"))


@pytest.fixture
def tray_on_fake_icon(sso_env, xvfb, monkeypatch):
    """The real TrayApp and Engine (fake clock) on the recording icon, run on a thread named "ui"."""
    monkeypatch.setenv("PYSTRAY_BACKEND", "dummy")  # import the package without a backend that opens the display
    import pystray
    from gi.repository import GLib

    from tray.core.engine.engine import Engine
    from tray.core.engine.scheduler import Scheduler
    from tray.ui.app import TrayApp

    monkeypatch.setattr(pystray, "Icon", recording_icon_class())
    monkeypatch.setenv("PYSTRAY_BACKEND", "gtk")  # the tray then talks to a GLib main loop, as with pystray's GTK backends
    clock = FakeClock()
    engine = Engine(clock=clock, scheduler=Scheduler(clock), copy=lambda text, clear_after: None)
    made: list = []
    failed: list = []

    def ui():
        try:  # made and run on one thread, as `sso-tray run` does on its main thread
            app = TrayApp(engine)
            made.append(app)
            app.run()
        except BaseException as e:  # noqa: BLE001 - reported by the test
            failed.append(e)
            raise

    thread = threading.Thread(target=ui, name="ui", daemon=True)
    thread.start()
    wait_for(lambda: made or failed, 15, 0.02, "the tray to start")
    assert not failed, failed
    app = made[0]
    yield app, engine, clock, sso_env
    if thread.is_alive():
        app.quit()
        thread.join(10)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # TrayApp.run let GLib take SIGTERM for its loop
    GLib.MainContext.default().iteration(False)


def drained(app) -> None:
    """Wait until the UI loop has run everything posted to it so far."""
    from gi.repository import GLib

    done = threading.Event()
    GLib.idle_add(lambda: done.set() or GLib.SOURCE_REMOVE)
    assert done.wait(10), "the UI loop is stuck"


@pytest.mark.pygobject
def test_every_change_of_the_icon_arrives_on_the_thread_that_runs_it(tray_on_fake_icon, home):
    from tray.core.engine.state import VALID
    from tray.ui.menu import status_text, tooltip

    app, engine, clock, sim = tray_on_fake_icon
    icon = app.icon
    wait_for(lambda: icon.visible and engine.state.sessions, 15, 0.02, "the icon shown and the config loaded")

    def step(*calls):
        """Call these engine actions at the same moment from as many threads; wait for all of them."""
        barrier = threading.Barrier(len(calls))
        with ThreadPoolExecutor(len(calls), thread_name_prefix="driver") as pool:
            futures = [pool.submit(lambda c=c: (barrier.wait(), c())[1]) for c in calls]
            for f in futures:
                result = f.result(60)
                if hasattr(result, "result"):
                    result.result(60)
        assert engine.wait_idle(60)

    # sign in, while settings change and a favourite is added from other threads
    step(lambda: engine.sign_in("dev"), lambda: engine.update_settings(default_format="fish"),
         lambda: engine.toggle_favourite("dev-admin"))
    wait_for(lambda: engine.state.sessions[0].state == VALID, 30, 0.05, "signed in")
    # accounts listed, from four threads at once
    step(*[lambda: engine.refresh_accounts("dev")] * 4)
    wait_for(lambda: engine.state.sessions[0].accounts and engine.state.sessions[0].accounts[0].name != engine.state.sessions[0].accounts[0].account_id,
             30, 0.05, "the accounts listed")
    # the minute's tick, on the fake clock, from the timer and from three threads at once
    for _ in range(3):
        clock.advance(timedelta(seconds=61))
        step(*[engine.scheduler.run_due] * 3)
    # a fault: Identity Center unreachable while the accounts are listed again; then it is back
    sim.stop()
    step(lambda: engine.refresh_accounts("dev"), lambda: engine.toggle_favourite("dev-read"))
    wait_for(lambda: engine.state.sessions[0].failing, 30, 0.05, "the fault shown")
    sim.start()
    step(lambda: engine.refresh_accounts("dev"), engine.scheduler.run_due)
    wait_for(lambda: engine.state.sessions[0].state == VALID and not engine.state.sessions[0].failing, 30, 0.05, "recovered")
    # renewal: the clock near the token's expiry, the timer and the file watcher on their own threads
    before = token(home)["accessToken"]
    clock.set(engine.state.sessions[0].expires_at - timedelta(minutes=20))
    step(engine.scheduler.run_due, engine.scheduler.run_due)
    wait_for(lambda: token(home)["accessToken"] != before, 30, 0.05, "the token renewed")
    assert engine.wait_idle(60)
    drained(app)

    ui = [(what, thread) for what, thread in icon.calls if thread == "ui"]
    elsewhere = [(what, thread) for what, thread in icon.calls if thread != "ui"]
    assert not elsewhere, f"{len(elsewhere)} calls off the UI thread, e.g. {elsewhere[:8]}"
    kinds = {what for what, _ in ui}
    assert {"icon", "title", "menu", "visible", "_show", "_update_menu"} <= kinds, kinds
    # and what is shown is the newest state
    assert icon.title == tooltip(engine.state)
    shown = icon._menu_handle.texts()
    assert any(text.startswith("★ dev-read") for text in shown), shown
    assert shown[0] == status_text(engine.state.sessions[0], engine.state.now)
    assert "set_label" in kinds  # the minute's status text was relabelled in place, on the UI thread too
    # Quit, from another thread: the loop stops, on its own thread too
    quitter = threading.Thread(target=app.quit, name="quitter")
    quitter.start()
    quitter.join(15)
    wait_for(lambda: not icon._loop.is_running(), 15, 0.05, "the loop to stop")
    assert [c for c in icon.calls if c[1] != "ui"] == []
    assert ("_stop", "ui") in icon.calls


@pytest.mark.pygobject
def test_a_burst_of_changes_is_applied_once_with_the_newest_values():
    from gi.repository import GLib

    from tray.ui.surface import Surface

    class Target:
        def __init__(self):
            self.applied = []

        def __setattr__(self, name, value):
            if name != "applied":
                self.applied.append((name, value, threading.current_thread().name))
            object.__setattr__(self, name, value)

    target = Target()
    surface = Surface(target, "gtk")
    surface.update(title="before start", visible=True)  # kept until the loop runs
    assert target.applied == []
    context = GLib.MainContext.default()
    surface.start()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: surface.update(title=f"t{i}", icon=f"image{i}"), range(200)))
    surface.update(title="newest")
    name = threading.current_thread().name
    while context.iteration(False):
        pass
    titles = [v for n, v, _ in target.applied if n == "title"]
    assert titles == ["newest"], target.applied[:10]  # one flush: the burst coalesced, the newest title won
    assert [n for n, _, _ in target.applied] == ["icon", "title", "visible"]
    assert {t for _, _, t in target.applied} == {name}
    # a new menu drops labels still waiting (they belonged to the menu it replaces)
    surface.update(labels=(("a",), lambda: "rebuilt"))
    surface.update(menu="new menu")
    while context.iteration(False):
        pass
    assert target.applied[-1][:2] == ("menu", "new menu")


class MessageLoop:
    """A thread that runs what is posted to it, in order: the stand-in for a platform's UI loop."""

    def __init__(self, name: str):
        import queue

        self.posted: queue.SimpleQueue = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def _run(self):
        while (fn := self.posted.get()) is not None:
            fn()

    def drain(self):
        done = threading.Event()
        self.posted.put(done.set)
        assert done.wait(10)

    def stop(self):
        self.posted.put(None)
        self.thread.join(10)


class IconDouble:
    """Records the thread of every attribute pystray's Icon would pass to the platform."""

    def __init__(self):
        object.__setattr__(self, "applied", [])

    def __setattr__(self, name, value):
        if not name.startswith("_"):
            self.applied.append((name, value, threading.current_thread().name))
        object.__setattr__(self, name, value)


def burst(surface) -> None:
    surface.start()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: surface.update(title=f"t{i}", menu=f"menu{i}"), range(100)))
    surface.update(title="newest", visible=True)


@pytest.mark.portable
def test_on_windows_changes_run_on_the_window_thread(monkeypatch):
    """pystray's Win32 window procedure calls `icon._message_handlers[message](wparam, lparam)` on the thread
    that pumps the icon's window: the Surface registers a message of its own there and posts it."""
    import types

    loop = MessageLoop("window")
    registered = {}

    def post_message(hwnd, message, wparam, lparam):  # what PostMessageW leads to: the window procedure, later, there
        assert hwnd == icon._hwnd
        loop.posted.put(lambda: icon._message_handlers[message](wparam, lparam))
        return True

    WM_NOTIFY = 0x400 + 11
    win32 = types.SimpleNamespace(RegisterWindowMessage=lambda name: registered.setdefault(name, 0xC000 + len(registered)),
                                  PostMessage=post_message, WM_NOTIFY=WM_NOTIFY)
    monkeypatch.setitem(sys.modules, "pystray._util.win32", win32)
    monkeypatch.setitem(sys.modules, "pystray._util", types.SimpleNamespace(win32=win32))
    from tray.ui.surface import Surface

    shown_while_open = []

    def show_menu(wparam, lparam):
        """pystray's WM_NOTIFY handler on a right click: TrackPopupMenuEx, whose modal loop dispatches the
        messages posted meanwhile, until the person picks an item."""
        before = len(icon.applied)
        surface.update(menu="changed while the menu is open")
        while not loop.posted.empty():
            loop.posted.get()()
        shown_while_open.extend(icon.applied[before:])
        return 0

    icon = IconDouble()
    icon._hwnd, icon._message_handlers = 0x1234, {WM_NOTIFY: show_menu}
    surface = Surface(icon, None, platform="win32")
    burst(surface)
    loop.drain()
    assert list(registered) == ["sso-tray.surface"] and registered["sso-tray.surface"] in icon._message_handlers
    assert {thread for _, _, thread in icon.applied} == {"window"}
    assert icon.title == "newest" and icon.visible is True
    assert len([1 for name, _, _ in icon.applied if name == "title"]) < 100  # merged, not one update per change
    # a right click: the menu is open while a change arrives; it is applied once the menu has closed
    closed = threading.Event()
    loop.posted.put(lambda: (icon._message_handlers[WM_NOTIFY](0, 0x205), closed.set()))
    assert closed.wait(10)
    loop.stop()
    assert shown_while_open == []
    assert icon.applied[-1][:2] == ("menu", "changed while the menu is open")


@pytest.mark.portable
def test_on_macos_changes_run_on_the_main_thread_and_relabel_in_place(monkeypatch):
    """`PyObjCTools.AppHelper.callAfter` runs a function on the NSApplication's main thread; the minute's
    labels change the NSMenu's items there instead of a new menu."""
    import types

    loop = MessageLoop("main")
    helper = types.SimpleNamespace(callAfter=lambda fn, *args: loop.posted.put(lambda: fn(*args)))
    monkeypatch.setitem(sys.modules, "PyObjCTools", types.SimpleNamespace(AppHelper=helper))
    monkeypatch.setitem(sys.modules, "PyObjCTools.AppHelper", helper)
    from tray.ui.surface import Surface

    class NSMenuItem:
        def __init__(self, title):
            self._title, self.set_on = title, []

        def isSeparatorItem(self):
            return self._title == "-"

        def title(self):
            return self._title

        def setTitle_(self, title):
            self._title = title
            self.set_on.append(threading.current_thread().name)

    class NSMenu:
        def __init__(self, titles):
            self.items = [NSMenuItem(t) for t in titles]

        def numberOfItems(self):
            return len(self.items)

        def itemAtIndex_(self, index):
            return self.items[index]

    icon = IconDouble()
    surface = Surface(icon, None, platform="darwin")
    assert surface.can_relabel
    burst(surface)
    loop.drain()
    assert {thread for _, _, thread in icon.applied} == {"main"} and icon.title == "newest"
    nsmenu = NSMenu(["dev — 5h 12m left", "-", "Quit"])
    icon._menu_handle = (nsmenu, [])
    before = len(icon.applied)
    surface.update(labels=(("dev — 5h 11m left", "-", "Quit"), lambda: "a new menu"))
    loop.drain()
    loop.stop()
    assert [i.title() for i in nsmenu.items] == ["dev — 5h 11m left", "-", "Quit"]
    assert nsmenu.items[0].set_on == ["main"] and len(icon.applied) == before  # relabelled; no new menu


@pytest.mark.portable
def test_no_code_but_the_surface_sets_what_the_icon_shows():
    """The door is the only one: outside tray/ui/surface.py no line assigns a pystray Icon's image, title,
    menu or visibility, or asks it to rebuild its menu (`self.icon = …`, holding the Icon, is not one).
    A line-based look: a guard against a new direct call, not a parser. A backend's own `_update_menu`
    (tray.ui.winmenu, tray.ui.macmenu) is how pystray applies a menu the Surface set, not another door."""
    import re

    root = Path(__file__).resolve().parent.parent / "tray"
    setter = re.compile(r"\.icon\.(icon|title|menu|visible)\s*=(?!=)|\bicon\.(icon|title|menu|visible)\s*=(?!=)|\bupdate_menu\(|setattr\([\w.]*icon\b")
    found = [f"{path.relative_to(root.parent)}:{n}: {line.strip()}"
             for path in root.rglob("*.py") if path.name != "surface.py"
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if setter.search(line)]
    assert found == []
    assert all(setter.search(line) for line in ("        self.icon.menu = menu", "icon.visible = True", "setattr(self.icon, key, value)", "icon.update_menu()"))
    assert not setter.search("    def _update_menu(self):")


@pytest.mark.portable
def test_on_macos_and_windows_notifications_are_shown_on_the_ui_thread(monkeypatch):
    """pystray's notify touches the platform (NSUserNotification, the icon window's balloon) like a setter
    does; the engine notifies from its own thread, so the notifier goes through the Surface too."""
    import types

    from tray.ui.notify import PystrayNotifier

    loop = MessageLoop("main")
    helper = types.SimpleNamespace(callAfter=lambda fn, *args: loop.posted.put(lambda: fn(*args)))
    monkeypatch.setitem(sys.modules, "PyObjCTools", types.SimpleNamespace(AppHelper=helper))
    monkeypatch.setitem(sys.modules, "PyObjCTools.AppHelper", helper)
    from tray.ui.surface import Surface

    shown = []

    class Icon:
        def notify(self, message, title=None):
            shown.append((title, message, threading.current_thread().name))

    icon = Icon()
    surface = Surface(icon, None, platform="darwin")
    surface.start()
    notifier = PystrayNotifier(icon, surface.call)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: notifier.notify(f"AWS session s{i} expires in 5m", "Sign in again", {}, None), range(8)))
    loop.drain()
    loop.stop()
    assert len(shown) == 8 and {thread for _, _, thread in shown} == {"main"}


GTK_POPUP = """
import json, threading
import gi
gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, GLib, Gtk
from tray.ui.surface import Surface

context = GLib.MainContext.default()


def drained():
    done = []
    GLib.idle_add(lambda: done.append(1) or GLib.SOURCE_REMOVE)
    while not done:
        context.iteration(True)


class Icon:
    def __init__(self):
        object.__setattr__(self, "applied", [])

    def __setattr__(self, name, value):
        if not name.startswith("_"):
            self.applied.append((name, value))
        object.__setattr__(self, name, value)


window = Gtk.Window()
window.show_all()
shown = Gtk.Menu()
shown.append(Gtk.MenuItem.new_with_label("dev — 5h 12m left"))
shown.show_all()
icon = Icon()
icon._menu_handle = shown
surface = Surface(icon, "gtk")
surface.start()
shown.popup_at_widget(window, Gdk.Gravity.SOUTH, Gdk.Gravity.NORTH, None)
while not shown.get_mapped():
    context.iteration(True)
surface.update(menu="a new menu", title="dev — expired")
drained()
while_open = list(icon.applied)
surface.update(title="dev — signed out")
shown.popdown()
drained()
drained()  # the flush posted when the popup hid
print(json.dumps({"while_open": while_open, "after": icon.applied}))
"""


@pytest.mark.pygobject
def test_on_gtk_changes_wait_while_gtks_own_popup_of_the_menu_is_open(xvfb, tmp_path):
    """The gtk backend (and AppIndicator without a panel) shows the menu as GTK's own popup: a new menu set
    while it is open would be swapped under the pointer. A real Gtk.Menu popped up on the virtual display,
    in a process of its own (GTK binds a process to the display it first opened)."""
    import subprocess

    script = tmp_path / "popup.py"
    script.write_text(GTK_POPUP, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["while_open"] == []  # nothing while the popup is open
    assert seen["after"] == [["title", "dev — signed out"], ["menu", "a new menu"]]
