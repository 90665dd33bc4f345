"""macOS notifications (tray.ui.macnotify): the user-notification framework in the .app, with "Sign in again"
working, on a recording stand-in for PyObjC's UserNotifications; `osascript` off the caller's thread elsewhere,
with a script standing in for macOS's osascript."""

from __future__ import annotations

import json
import os
import sys
import threading
import types
from pathlib import Path

import pytest

from desktop import wait_for

pytestmark = pytest.mark.portable


class Obj:
    """An Objective-C object as PyObjC shows it: alloc().init(), and setters that record."""

    @classmethod
    def alloc(cls):
        return cls()

    def init(self):
        return self

    def __getattr__(self, name):
        if name.startswith("set") and name.endswith("_"):
            return lambda value: self.__dict__.__setitem__(name[3:-1].lower(), value)
        raise AttributeError(name)


def framework():
    """UserNotifications as the notifier uses it; `center` records what it was given."""

    class Center:
        delegate, categories, requests, asked = None, None, [], None

        def setDelegate_(self, delegate):
            self.delegate = delegate

        def requestAuthorizationWithOptions_completionHandler_(self, options, done):
            self.asked = options
            done(True, None)

        def setNotificationCategories_(self, categories):
            self.categories = categories

        def addNotificationRequest_withCompletionHandler_(self, request, done):
            self.requests.append(request)
            done(None)

    center = Center()

    class Request:
        def __init__(self, ident, content):
            self.ident, self.content = ident, content

        def identifier(self):
            return self.ident

    un = types.SimpleNamespace(
        UNUserNotificationCenter=types.SimpleNamespace(currentNotificationCenter=lambda: center),
        UNMutableNotificationContent=Obj,
        UNNotificationRequest=types.SimpleNamespace(requestWithIdentifier_content_trigger_=lambda i, c, t: Request(i, c)),
        UNNotificationCategory=types.SimpleNamespace(categoryWithIdentifier_actions_intentIdentifiers_options_=
                                                     lambda ident, actions, intents, options: (ident, actions)),
        UNNotificationAction=types.SimpleNamespace(actionWithIdentifier_title_options_=lambda ident, title, options: (ident, title)),
        UNAuthorizationOptionAlert=4, UNAuthorizationOptionSound=2, UNNotificationActionOptionForeground=4,
        UNNotificationDefaultActionIdentifier="com.apple.UNNotificationDefaultActionIdentifier",
        UNNotificationDismissActionIdentifier="com.apple.UNNotificationDismissActionIdentifier",
        UNNotificationPresentationOptionBanner=16, UNNotificationPresentationOptionList=8,
    )
    foundation = types.ModuleType("Foundation")
    foundation.NSObject, foundation.NSSet = Obj, types.SimpleNamespace(setWithArray_=list)
    return un, foundation, center


def response(request, action):
    """What the framework hands the delegate when the person clicks."""
    notification = types.SimpleNamespace(request=lambda: request)
    return types.SimpleNamespace(notification=lambda: notification, actionIdentifier=lambda: action)


def test_in_the_app_sign_in_again_and_a_click_on_the_notification_run_the_action():
    from tray.ui.macnotify import UserNotifier

    un, foundation, center = framework()
    notifier = UserNotifier(un, foundation)
    assert center.asked == 6 and notifier.available
    ran = []
    notifier.notify("AWS session dev expires in 10m", "Sign in again to keep…", {"sign-in": "Sign in again"}, ran.append)
    notifier.notify("sso-tray", "Copied dev (bash)", {}, ran.append)
    warning, outcome = center.requests
    assert warning.content.title == "AWS session dev expires in 10m" and warning.content.body == "Sign in again to keep…"
    assert center.categories == [(warning.content.categoryidentifier, [("sign-in", "Sign in again")])]
    assert not hasattr(outcome.content, "categoryidentifier") or outcome.content.categoryidentifier is None
    done = []
    center.delegate.userNotificationCenter_didReceiveNotificationResponse_withCompletionHandler_(
        center, response(warning, "sign-in"), lambda: done.append(1))
    assert ran == ["sign-in"] and done == [1]
    notifier.notify("AWS session dev expires in 2m", "…", {"sign-in": "Sign in again"}, ran.append)
    again = center.requests[-1]
    assert again.content.categoryidentifier == warning.content.categoryidentifier  # one category, registered once
    center.delegate.userNotificationCenter_didReceiveNotificationResponse_withCompletionHandler_(
        center, response(again, un.UNNotificationDefaultActionIdentifier), lambda: done.append(2))
    assert ran == ["sign-in", "sign-in"] and done == [1, 2]  # a click on the notification itself: its first action
    center.delegate.userNotificationCenter_didReceiveNotificationResponse_withCompletionHandler_(
        center, response(again, "sign-in"), lambda: done.append(3))
    assert ran == ["sign-in", "sign-in"] and done == [1, 2, 3]  # once only


def test_outside_the_app_osascript_runs_off_the_callers_thread(tmp_path):
    """The tray notifies from its engine thread and, through pystray, did so on the main thread, which
    then waited for osascript: here the caller returns while osascript still runs. (A Python script
    stands in for macOS's osascript: it waits to be released, then writes down its arguments.)"""
    from tray.ui.macnotify import ScriptNotifier

    release, record = tmp_path / "release", tmp_path / "argv.json"
    script = tmp_path / "osascript.py"
    script.write_text(
        "import json, pathlib, sys, time\n"
        f"while not pathlib.Path({str(release)!r}).exists():\n    time.sleep(0.01)\n"
        f"pathlib.Path({str(record)!r}).write_text(json.dumps(sys.argv[1:]), encoding='utf-8')\n", encoding="utf-8")
    ScriptNotifier([sys.executable, str(script)]).notify('dev "quoted" \\ title', "body\nline two", {"sign-in": "Sign in again"},
                                                         lambda a: None)
    assert not record.exists()  # returned while osascript waits
    release.touch()
    wait_for(record.exists, 15, 0.01, "osascript to run")
    argv = json.loads(record.read_text(encoding="utf-8"))
    assert argv[-2:] == ['dev "quoted" \\ title', "body\nline two"]  # the texts as arguments, never inside the script
    assert argv[:6] == ["-e", "on run argv", "-e", "display notification (item 2 of argv) with title (item 1 of argv)", "-e", "end run"]


def test_the_app_bundle_is_told_from_plain_python():
    from tray.ui.macnotify import in_app_bundle

    assert in_app_bundle("/Applications/sso-tray.app/Contents/MacOS/sso-tray", frozen=True)
    assert not in_app_bundle("/usr/local/bin/python3", frozen=False)
    assert not in_app_bundle(str(Path(os.sep, "opt", "sso-tray", "sso-tray")), frozen=True)
