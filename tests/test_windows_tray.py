"""tray.ui.windows and the Windows notifier, on any OS: the fallbacks of DPI awareness with stand-ins for
user32 and shcore (the real calls run in the Windows lane, tests/windows), and what a balloon click runs."""

from __future__ import annotations

from tray.ui import windows
from tray.ui.notify import PystrayNotifier


class User32:
    """user32 as an older Windows has it: `missing` names functions it lacks."""

    def __init__(self, missing=(), refuses=()):
        self.missing, self.refuses, self.calls = set(missing), set(refuses), []

    def __getattr__(self, name):
        if name in self.missing:
            raise AttributeError(name)

        def call(*args):
            self.calls.append(name)
            return 0 if name in self.refuses else 1
        return call


class Shcore:
    def __init__(self, result=0):
        self.result = result

    def SetProcessDpiAwareness(self, value):
        assert value == windows.PROCESS_PER_MONITOR_DPI_AWARE
        return self.result


def test_dpi_awareness_takes_the_best_this_windows_has():
    assert windows.make_dpi_aware(User32(), Shcore()) == "per-monitor v2"
    assert windows.make_dpi_aware(User32(missing={"SetProcessDpiAwarenessContext"}), Shcore()) == "per-monitor"
    old = User32(missing={"SetProcessDpiAwarenessContext"})
    assert windows.make_dpi_aware(old, Shcore(result=0x80070005)) == "system"  # E_ACCESSDENIED
    assert old.calls == ["SetProcessDPIAware"]
    assert windows.make_dpi_aware(User32(refuses={"SetProcessDpiAwarenessContext", "SetProcessDPIAware"}), Shcore(1)) is None


class Icon:
    def __init__(self):
        self.shown = []

    def notify(self, body, title):
        self.shown.append((title, body))


def test_a_balloon_click_runs_the_newest_notifications_first_action_once():
    runs = []
    notifier = PystrayNotifier(Icon())
    notifier.balloon_clicked()  # nothing shown yet: nothing runs
    notifier.notify("AWS session dev expires in 5m", "Sign in again ...", {"sign-in": "Sign in again", "later": "Later"}, runs.append)
    notifier.balloon_clicked()
    notifier.balloon_clicked()
    assert runs == ["sign-in"]
    notifier.notify("AWS session dev expires in 5m", "...", {"sign-in": "Sign in again"}, runs.append)
    notifier.notify("sso-tray", "Copied.", {}, runs.append)  # a balloon without actions replaces it
    notifier.balloon_clicked()
    assert runs == ["sign-in"]


def test_clicks_on_the_icon_are_routed():
    """A left click reaches pystray's handler as a right click (the menu); a balloon click goes to the notifier."""
    seen, balloons = [], []

    class Icon:
        _message_handlers = {1035: lambda wparam, lparam: seen.append(lparam)}

    icon = Icon()
    windows.route_clicks(icon, lambda: balloons.append(1), notify_message=1035)
    handler = icon._message_handlers[1035]
    handler(0, windows.WM_LBUTTONUP)
    handler(0, windows.WM_RBUTTONUP)
    handler(0, 0x0200)  # WM_MOUSEMOVE passes as it is
    handler(0, windows.NIN_BALLOONUSERCLICK)
    assert seen == [windows.WM_RBUTTONUP, windows.WM_RBUTTONUP, 0x0200]
    assert balloons == [1]
