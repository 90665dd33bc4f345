"""macOS: pystray's AppKit icon with submenus filled when they open, each item carrying its own action,
nothing replaced while the menu is open, and a template image for the menu bar.

pystray 0.19.5 builds an NSMenuItem for every item of every submenu whenever the menu is set, and again
after every click (about 43,000 items and 2 s of the main thread with 1000 accounts x 3 roles). Its
items carry an index (`tag`) into the callbacks of the *newest* build: `AppHelper.callAfter` runs during
menu tracking, so a menu rebuilt while open made the old item's tag run another item's action ("Open
console" ran "Write credentials"). Here:

- a build makes the top level only; each submenu is an NSMenu holding a disabled placeholder whose
  delegate fills it in `menuNeedsUpdate:` (AppKit asks just before showing it), once;
- each NSMenuItem holds its own callback as its `representedObject`, and one long-lived target runs it:
  AppKit sends an item's action after `menuDidClose:`, so by then the tray may have a new menu, and the
  sender still knows what it was;
- the top menu's `menuWillOpen:`/`menuDidClose:` drive a `MenuGate`: the tray's changes wait while the
  menu is open (tray.ui.surface);
- the minute's status text is set in place (tray.ui.surface), and a click does not rebuild anything;
- the icon is a template image (black and alpha: the menu bar tints it for light, dark and highlighted
  bars) of 22 points, with a 44-pixel representation for Retina screens; the states differ by shape.

PyObjC's AppKit is imported only here, and only on macOS; the tests run this with pystray's real
`_darwin.py` on recording stand-ins for AppKit and Foundation.
"""

from __future__ import annotations

import functools
import io

from tray.ui.lazymenu import PLACEHOLDER, MenuGate, NoRebuildOnClick

ITEM_ACTION = "activateItem:"
BAR_POINTS = 22  # the menu bar's icon height; its thickness, when AppKit says otherwise


@functools.cache
def _target_class():
    """The one NSObject subclass (AppKit class names are process-wide, so it is made once)."""
    import Foundation

    class SsoTrayMenuTarget(Foundation.NSObject):
        """Target of every item and delegate of every menu; `owner` is the icon."""

        def activateItem_(self, sender):
            sender.representedObject()()

        def menuNeedsUpdate_(self, nsmenu):
            self.owner._fill_lazy(nsmenu)

        def menuWillOpen_(self, nsmenu):
            if nsmenu == self.owner._top_menu:
                self.owner.menu_gate.opened()

        def menuDidClose_(self, nsmenu):
            if nsmenu == self.owner._top_menu:
                self.owner.menu_gate.closed()

    return SsoTrayMenuTarget


def template_png(image, pixels: int) -> bytes:
    """`image` as a menu-bar template of pixels x pixels: black, with the drawing's coverage as alpha."""
    from PIL import Image

    rgba = image.convert("RGBA").resize((pixels, pixels), Image.Resampling.LANCZOS)
    template = Image.new("RGBA", rgba.size, (0, 0, 0, 0))
    template.putalpha(rgba.getchannel("A"))
    out = io.BytesIO()
    template.save(out, "PNG")
    return out.getvalue()


def lazy_darwin_icon_class(base: type) -> type:
    """`base` (pystray's AppKit Icon) with the menu and image described above."""
    import AppKit
    import Foundation
    from pystray import _base

    target_class = _target_class()

    class LazyDarwinIcon(NoRebuildOnClick, base):
        def __init__(self, *args, **kwargs):
            self.menu_gate = MenuGate()
            self.menus_created = 0  # NSMenus made since start (benchmarks, tests)
            self._top_menu = None
            self._unfilled: dict = {}  # NSMenu -> its pystray.Menu, until it is first shown
            super().__init__(*args, **kwargs)
            self._target = target_class.alloc().init()  # items and menus hold it weakly: it lives with the icon
            self._target.owner = self

        def _update_menu(self):
            descriptors = self.menu
            self._unfilled = {}
            if not descriptors:
                self._top_menu = self._menu_handle = None
                self._status_item.setMenu_(None)
                return
            nsmenu = self._native_menu(descriptors)
            self._top_menu = nsmenu
            self._status_item.setMenu_(nsmenu)
            self._menu_handle = (nsmenu, None)  # the NSMenu where pystray and the relabel look for it

        def _native_menu(self, descriptors):
            nsmenu = self._new_menu()
            for descriptor in descriptors:
                nsmenu.addItem_(self._native_item(descriptor))
            return nsmenu

        def _new_menu(self):
            self.menus_created += 1
            nsmenu = AppKit.NSMenu.alloc().initWithTitle_(self.name)
            nsmenu.setAutoenablesItems_(False)
            nsmenu.setDelegate_(self._target)
            return nsmenu

        def _native_item(self, descriptor):
            if descriptor is _base.Menu.SEPARATOR:
                return AppKit.NSMenuItem.separatorItem()
            item = AppKit.NSMenuItem.alloc().initWithTitle_action_keyEquivalent_(descriptor.text, None, "")
            if descriptor.submenu:
                submenu = self._new_menu()
                placeholder = AppKit.NSMenuItem.alloc().initWithTitle_action_keyEquivalent_(PLACEHOLDER, None, "")
                placeholder.setEnabled_(False)
                submenu.addItem_(placeholder)  # an empty submenu is not shown as one
                self._unfilled[submenu] = descriptor.submenu
                item.setSubmenu_(submenu)
            else:
                item.setRepresentedObject_(lambda: descriptor(self))
                item.setTarget_(self._target)
                item.setAction_(ITEM_ACTION)
            if descriptor.default:
                font = AppKit.NSFont.boldSystemFontOfSize_(AppKit.NSFont.menuFontOfSize_(0).pointSize())
                attributes = Foundation.NSDictionary.dictionaryWithObject_forKey_(font, AppKit.NSFontAttributeName)
                item.setAttributedTitle_(Foundation.NSAttributedString.alloc().initWithString_attributes_(descriptor.text, attributes))
            if descriptor.checked is not None:
                item.setState_(AppKit.NSOnState if descriptor.checked else AppKit.NSOffState)
            item.setEnabled_(descriptor.enabled)
            return item

        def _fill_lazy(self, nsmenu) -> None:
            descriptors = self._unfilled.pop(nsmenu, None)
            if descriptors is None:
                return
            nsmenu.removeAllItems()
            for descriptor in descriptors:
                nsmenu.addItem_(self._native_item(descriptor))

        def _assert_image(self):
            if self._icon_image is not None:
                return
            points = self._status_bar.thickness() or BAR_POINTS
            image = AppKit.NSImage.alloc().initWithSize_((points, points))
            for scale in (1, 2):
                png = template_png(self._icon, round(points * scale))
                data = Foundation.NSData.dataWithBytes_length_(png, len(png))
                representation = AppKit.NSBitmapImageRep.imageRepWithData_(data)
                representation.setSize_((points, points))  # 44 pixels in 22 points: the Retina image
                image.addRepresentation_(representation)
            image.setTemplate_(True)
            self._icon_image = image
            self._status_item.button().setImage_(image)

    LazyDarwinIcon.__name__ = LazyDarwinIcon.__qualname__ = f"Lazy{base.__name__}"
    return LazyDarwinIcon
