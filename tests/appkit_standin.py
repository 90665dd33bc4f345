"""Stand-ins for PyObjC's AppKit, Foundation, objc and PyObjCTools, under which pystray's real `_darwin.py`
and tray.ui.macmenu run on any OS.

Small Python classes keep what AppKit would (menus and their items, the status item, the main thread's
queue of `AppHelper.callAfter` calls) and count what was made. `Mac.run_loop()` is NSApplication.run: it
runs the queued calls on the thread that called it. A person's use of the menu follows AppKit's order:
opening a menu asks its delegate `menuNeedsUpdate:` then `menuWillOpen:`; while it is open the main
thread goes on running callAfter calls (menu tracking runs the run loop); a click closes the menus
(`menuDidClose:`, innermost first) and then sends the item's action to its target with the item as sender.
"""

from __future__ import annotations

import io
import queue
import sys
import threading
from types import ModuleType


class NSObject:
    @classmethod
    def alloc(cls):
        return cls.__new__(cls)

    def init(self):
        return self


class NSMenuItem(NSObject):
    made = 0

    def initWithTitle_action_keyEquivalent_(self, title, action, key):
        NSMenuItem.made += 1
        self._title, self._action, self._target, self._submenu = title, action, None, None
        self._tag, self._state, self._enabled, self._object, self._separator = 0, 0, True, None, False
        return self

    @classmethod
    def separatorItem(cls):
        item = cls.alloc().initWithTitle_action_keyEquivalent_("", None, "")
        item._separator = True
        return item

    def isSeparatorItem(self):
        return self._separator

    def title(self):
        return self._title

    def setTitle_(self, title):
        self._title = title

    def setAttributedTitle_(self, text):
        self._title = text.string

    def setSubmenu_(self, menu):
        self._submenu = menu

    def submenu(self):
        return self._submenu

    def setAction_(self, action):
        self._action = action

    def action(self):
        return self._action

    def setTarget_(self, target):
        self._target = target

    def target(self):
        return self._target

    def setTag_(self, tag):
        self._tag = tag

    def tag(self):
        return self._tag

    def setState_(self, state):
        self._state = state

    def setEnabled_(self, enabled):
        self._enabled = bool(enabled)

    def isEnabled(self):
        return self._enabled

    def setRepresentedObject_(self, value):
        self._object = value

    def representedObject(self):
        return self._object


class NSMenu(NSObject):
    made = 0

    def initWithTitle_(self, title):
        NSMenu.made += 1
        self._items, self._delegate = [], None
        return self

    def setAutoenablesItems_(self, flag):
        pass

    def setDelegate_(self, delegate):
        self._delegate = delegate

    def delegate(self):
        return self._delegate

    def addItem_(self, item):
        self._items.append(item)

    def removeAllItems(self):
        self._items.clear()

    def numberOfItems(self):
        return len(self._items)

    def itemAtIndex_(self, index):
        return self._items[index]

    def itemArray(self):
        return list(self._items)


class NSImageRep:
    def __init__(self, data):
        from PIL import Image

        self.image = Image.open(io.BytesIO(data.bytes))
        self.pixels = self.image.size
        self.points = self.pixels

    def setSize_(self, size):
        self.points = tuple(size)


class NSBitmapImageRep:
    @staticmethod
    def imageRepWithData_(data):
        return NSImageRep(data)


class NSImage(NSObject):
    def initWithData_(self, data):
        return self.initWithSize_((0, 0))

    def initWithSize_(self, size):
        self.points, self.representations, self.template = tuple(size), [], False
        return self

    def addRepresentation_(self, rep):
        self.representations.append(rep)

    def setTemplate_(self, flag):
        self.template = bool(flag)


class NSData:
    def __init__(self, data=b""):
        self.bytes = bytes(data)

    @classmethod
    def dataWithBytes_length_(cls, data, length):
        return cls(data[:length])


class Button:
    def __init__(self):
        self.tooltip, self.image, self.hidden = None, None, True

    def setTarget_(self, target):
        pass

    def setAction_(self, action):
        pass

    def setHidden_(self, hidden):
        self.hidden = hidden

    def setToolTip_(self, text):
        self.tooltip = text

    def setImage_(self, image):
        self.image = image


class StatusItem:
    def __init__(self):
        self._button, self._menu = Button(), None

    def button(self):
        return self._button

    def setMenu_(self, menu):
        self._menu = menu

    def menu(self):
        return self._menu


class Mac:
    """The stand-in's state: the status item, the main thread's queue, the menus open now."""

    def __init__(self):
        self.status_item = StatusItem()
        self.calls: queue.Queue = queue.Queue()
        self.stopped = False
        self.open_menus: list[NSMenu] = []

    # NSApplication
    def run(self):
        while not self.stopped:
            self.calls.get()()

    def stop_(self, sender):
        self.stopped = True

    def postEvent_atStart_(self, event, at_start):
        self.calls.put(lambda: None)

    def terminate_(self, sender):
        self.stopped = True

    # PyObjCTools.AppHelper
    def callAfter(self, fn, *args):
        self.calls.put(lambda: fn(*args))

    def pump(self) -> None:
        """The main thread's run loop during menu tracking: what callAfter queued runs now."""
        while not self.calls.empty():
            self.calls.get()()

    # a person
    def open(self, menu: NSMenu) -> NSMenu:
        delegate = menu.delegate()
        if delegate is not None and hasattr(delegate, "menuNeedsUpdate_"):
            delegate.menuNeedsUpdate_(menu)
        if delegate is not None and hasattr(delegate, "menuWillOpen_"):
            delegate.menuWillOpen_(menu)
        self.open_menus.append(menu)
        return menu

    def open_menu(self) -> NSMenu:
        return self.open(self.status_item.menu())

    def open_submenu(self, menu: NSMenu, title: str) -> NSMenu:
        return self.open(self.item(menu, title).submenu())

    @staticmethod
    def item(menu: NSMenu, title: str) -> NSMenuItem:
        return next(i for i in menu.itemArray() if i.title() == title)

    @staticmethod
    def titles(menu: NSMenu) -> list[str]:
        return ["-" if i.isSeparatorItem() else i.title() for i in menu.itemArray()]

    def close(self) -> None:
        while self.open_menus:
            menu = self.open_menus.pop()
            delegate = menu.delegate()
            if delegate is not None and hasattr(delegate, "menuDidClose_"):
                delegate.menuDidClose_(menu)

    def click(self, item: NSMenuItem) -> None:
        """AppKit closes the menus, then sends the item's action to its target."""
        assert item.isEnabled() and item.submenu() is None
        self.close()
        target, selector = item.target(), item.action()
        selector = selector.decode() if isinstance(selector, bytes) else selector
        method = next((getattr(target, name) for name in dir(type(target))
                       if getattr(getattr(type(target), name), "selector", None) == selector), None)
        (method or getattr(target, selector.replace(":", "_")))(item)


def install(monkeypatch) -> Mac:
    """Put the stand-ins in sys.modules (and forget any pystray._darwin or tray.ui.macmenu made with others)."""
    monkeypatch.setenv("PYSTRAY_BACKEND", "dummy")  # pystray's own choice would open the display on Linux
    mac = Mac()
    NSMenu.made = NSMenuItem.made = 0

    def named_selector(name, *args, **kwargs):
        def mark(fn):
            fn.selector = name.decode() if isinstance(name, bytes) else name
            return fn
        return mark

    def module(name, **attrs):
        m = ModuleType(name)
        m.__dict__.update(attrs)
        monkeypatch.setitem(sys.modules, name, m)
        return m

    class NSStatusBar:
        @staticmethod
        def systemStatusBar():
            return NSStatusBar()

        def thickness(self):
            return 22.0

        def statusItemWithLength_(self, length):
            return mac.status_item

        def removeStatusItem_(self, item):
            pass

    class NSApplication:
        @staticmethod
        def sharedApplication():
            return mac

    class NSFont:
        size = 13.0

        @staticmethod
        def menuFontOfSize_(size):
            return NSFont()

        @staticmethod
        def boldSystemFontOfSize_(size):
            return NSFont()

        def pointSize(self):
            return self.size

    class NSAttributedString(NSObject):
        def initWithString_attributes_(self, text, attributes):
            self.string = text
            return self

    class NSDictionary(NSObject):
        @staticmethod
        def dictionaryWithObject_forKey_(value, key):
            return {key: value}

        def initWithObjectsAndKeys_(self, *args):
            return self

    class NSEvent:
        @staticmethod
        def otherEventWithType_location_modifierFlags_timestamp_windowNumber_context_subtype_data1_data2_(*args):
            return object()

    module("objc", namedSelector=named_selector, python_method=lambda fn: fn)
    module("Foundation", NSObject=NSObject, NSData=NSData, NSAttributedString=NSAttributedString, NSDictionary=NSDictionary)
    module("AppKit", NSApplication=NSApplication, NSStatusBar=NSStatusBar, NSMenu=NSMenu, NSMenuItem=NSMenuItem,
           NSImage=NSImage, NSBitmapImageRep=NSBitmapImageRep, NSFont=NSFont, NSFontAttributeName="NSFont",
           NSVariableStatusItemLength=-1, NSOnState=1, NSOffState=0, NSApplicationDefined=15, NSEvent=NSEvent,
           NSPoint=lambda x, y: (x, y))
    signals = module("PyObjCTools.MachSignals", signal=lambda sig, handler: None, getsignal=lambda sig: None)
    helper = module("PyObjCTools.AppHelper", callAfter=mac.callAfter)
    module("PyObjCTools", MachSignals=signals, AppHelper=helper)
    for name in ("pystray._darwin", "tray.ui.macmenu"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    return mac


def run_on_main_thread(mac: Mac, icon, setup) -> threading.Thread:
    """pystray's `Icon.run` (NSApplication.run inside) on a thread of its own, named "main"."""
    thread = threading.Thread(target=icon.run, args=(setup,), name="main", daemon=True)
    thread.start()
    return thread
