"""macOS notifications, never on the main thread.

pystray's `notify` runs `osascript` on the main thread (the menu bar item stops answering until it
returns) and the notification is credited to Script Editor, which a click opens. Instead:

- in the `.app` bundle, the user-notification framework (UNUserNotificationCenter): the notification is
  sso-tray's own, and its "Sign in again" button, or a click on the notification itself, runs the
  action (the framework's delegate calls back on a queue of its own, not the main thread);
- outside a bundle (pip or pipx: plain Python, which the framework refuses), `osascript` on a worker
  thread: shown, with no action.
"""

from __future__ import annotations

import functools
import logging
import subprocess
import sys
import threading
import uuid
from typing import Callable, Sequence

from tray.ui.notify import APP_NAME, notification_text

log = logging.getLogger(__name__)

# the text goes to osascript as arguments, never spliced into the script
OSASCRIPT = ("on run argv", "display notification (item 2 of argv) with title (item 1 of argv)", "end run")


def in_app_bundle(executable: str | None = None, frozen: bool | None = None) -> bool:
    """True when this process is the bundle's own executable (sso-tray.app/Contents/MacOS/…)."""
    executable = executable or sys.executable
    frozen = getattr(sys, "frozen", False) if frozen is None else frozen
    return bool(frozen) and ".app/Contents/MacOS/" in executable


class ScriptNotifier:
    """`osascript` on a thread of its own for each notification; no actions."""

    available = True
    reason = ""

    def __init__(self, program: Sequence[str] = ("osascript",)):
        self.program = list(program)

    def notify(self, title: str, body: str, actions: dict[str, str], on_action: Callable[[str], None],
               tag: str | None = None, urgency: str | None = None) -> None:
        title, body = notification_text(title, body)
        argv = [*self.program, *(arg for line in OSASCRIPT for arg in ("-e", line)), title, body]
        threading.Thread(target=self._run, args=(argv,), name="notify", daemon=True).start()

    @staticmethod
    def _run(argv: list[str]) -> None:
        try:
            subprocess.run(argv, capture_output=True, timeout=30, check=True)
        except (OSError, subprocess.SubprocessError) as e:
            log.warning("notification failed: %s", type(e).__name__)

    def close(self, tag: str) -> None:
        pass  # osascript cannot take back what it showed


class UserNotifier:
    """UNUserNotificationCenter, with each notification's actions as a category of buttons. A request with
    the identifier of one delivered before replaces it: a tag's notification is updated in place."""

    available = True
    reason = ""

    def __init__(self, framework=None, foundation=None):
        if framework is None:
            import Foundation as foundation
            import UserNotifications as framework
        self._un, self._foundation = framework, foundation
        self._callbacks: dict[str, tuple[str, Callable[[str], None]]] = {}  # request id -> (first action, callback)
        self._categories: dict[tuple[tuple[str, str], ...], str] = {}
        self._lock = threading.Lock()
        self.center = framework.UNUserNotificationCenter.currentNotificationCenter()
        self._delegate = _delegate_class(foundation).alloc().init()
        self._delegate.owner = self  # the center holds its delegate weakly
        self.center.setDelegate_(self._delegate)
        options = framework.UNAuthorizationOptionAlert | framework.UNAuthorizationOptionSound
        self.center.requestAuthorizationWithOptions_completionHandler_(options, self._authorized)

    def _authorized(self, granted, error) -> None:
        if not granted:
            self.available, self.reason = False, "notifications are turned off for sso-tray in System Settings"

    def notify(self, title: str, body: str, actions: dict[str, str], on_action: Callable[[str], None],
               tag: str | None = None, urgency: str | None = None) -> None:
        un = self._un
        title, body = notification_text(title, body)
        content = un.UNMutableNotificationContent.alloc().init()
        content.setTitle_(title)
        content.setBody_(body)
        identifier = f"{APP_NAME}-{tag or uuid.uuid4().hex}"
        with self._lock:
            self._callbacks.pop(identifier, None)
        if actions:
            content.setCategoryIdentifier_(self._category(actions))
            with self._lock:
                self._callbacks[identifier] = (next(iter(actions)), on_action)
        request = un.UNNotificationRequest.requestWithIdentifier_content_trigger_(identifier, content, None)
        self.center.addNotificationRequest_withCompletionHandler_(request, self._added)

    def close(self, tag: str) -> None:
        """Take the tag's notification out of Notification Center (it is no longer true)."""
        identifier = f"{APP_NAME}-{tag}"
        with self._lock:
            self._callbacks.pop(identifier, None)
        self.center.removeDeliveredNotificationsWithIdentifiers_([identifier])

    def _category(self, actions: dict[str, str]) -> str:
        """The category whose buttons are these actions, registered with the center once."""
        key = tuple(actions.items())
        with self._lock:
            if key in self._categories:
                return self._categories[key]
            name = f"{APP_NAME}-{len(self._categories)}"
            self._categories[key] = name
            un = self._un
            made = [un.UNNotificationCategory.categoryWithIdentifier_actions_intentIdentifiers_options_(
                        ident, [un.UNNotificationAction.actionWithIdentifier_title_options_(k, label, un.UNNotificationActionOptionForeground)
                                for k, label in pairs], [], 0)
                    for pairs, ident in self._categories.items()]
        self.center.setNotificationCategories_(self._foundation.NSSet.setWithArray_(made))
        return name

    @staticmethod
    def _added(error) -> None:
        if error is not None:
            log.warning("notification failed: %s", error)

    def _responded(self, response) -> None:
        identifier = response.notification().request().identifier()
        with self._lock:
            found = self._callbacks.pop(identifier, None)
        if found is None:
            return
        first, callback = found
        action = response.actionIdentifier()
        if action == self._un.UNNotificationDismissActionIdentifier:
            return
        callback(first if action == self._un.UNNotificationDefaultActionIdentifier else action)


@functools.cache
def _delegate_class(foundation) -> type:
    """The center's delegate, made once (Objective-C class names are process-wide)."""

    class SsoTrayNotificationDelegate(foundation.NSObject):
        def userNotificationCenter_didReceiveNotificationResponse_withCompletionHandler_(self, center, response, done):
            try:
                self.owner._responded(response)
            finally:
                done()

        def userNotificationCenter_willPresentNotification_withCompletionHandler_(self, center, notification, done):
            done(self.owner._un.UNNotificationPresentationOptionBanner | self.owner._un.UNNotificationPresentationOptionList)

    return SsoTrayNotificationDelegate


def mac_notifier():
    """The notifier for this process: the framework's in the bundle, else osascript off the main thread."""
    if in_app_bundle():
        try:
            return UserNotifier()
        except Exception as e:  # the framework missing or refusing: still tell the person, without buttons
            log.warning("the user-notification framework is not available (%s): notifying through osascript", e)
    return ScriptNotifier()
