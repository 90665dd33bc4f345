"""The demo on a machine with no display: `sso-tray demo` on a virtual desktop (Xvfb, trayer, a session
bus with dunst), with screenshots of the docked icon and the open menu saved in artifacts/demo/.
Run by scripts/demo when neither DISPLAY nor WAYLAND_DISPLAY is set."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def need_program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        sys.exit(f"scripts/demo: {name} is not installed (scripts/bootstrap --demo installs it)")
    return path


# tests/desktop.py takes these two from the tests' conftest, which needs pytest; the demo installs no test tools.
sys.modules["conftest"] = types.SimpleNamespace(ROOT=ROOT, need_program=need_program)

from desktop import VirtualDesktop, wait_for  # noqa: E402  (the same virtual desktop the tests use)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=25)
    parser.add_argument("--out", default=str(ROOT / "artifacts" / "demo"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sso-tray-desktop-") as tmp, VirtualDesktop(Path(tmp)) as desktop:
        tray = desktop.start_tray(Path(tmp) / "logs", args=("demo", "--accounts", str(args.accounts)))
        try:
            wait_for(desktop.tray_icons, 60, 0.05, "the demo's icon docked in the tray")
            docked = time.time()
            listed = wait_for(lambda: any(c.label == "Accounts" or c.label.startswith(("Accounts ", "dev-0 (")) for c in tray.layout().children), 60, 0.3,
                              "the demo's accounts in the tray menu")
            assert listed
            time.sleep(1)
            screen = desktop.screenshot()
            x0, y0, x1, y1 = desktop.panel_box()
            icon = screen.crop((x0, y0, x1, y1))
            icon.resize((icon.width * 4, icon.height * 4)).save(out / "icon.png")
            desktop.move_mouse(500, 500)
            desktop.click_icon(1)
            box = wait_for(desktop.popup_windows, 10, 0.1, "the tray's menu to open")[0]
            time.sleep(0.5)
            screen = desktop.screenshot()
            screen.crop((max(0, box[0] - 16), 0, screen.width, min(screen.height, box[3] + 16))).save(out / "menu.png")
            desktop.press("Escape")
        finally:
            tray.stop()
        output = tray.stdout  # read before the desktop's folder, which holds it, is removed
    print(output, end="")
    home = re.search(r"throw-away home (\S+)", output)
    if home:
        gone = "is gone" if not Path(home.group(1)).exists() else "is left behind (remove it by hand)"
        print(f"\nThe demo has ended: its simulator has stopped and its throw-away home {home.group(1)} {gone}, so the"
              " lines above no longer work. Run the demo where there is a display (`scripts/demo`) to use them.")
    started = os.environ.get("SSO_TRAY_DEMO_STARTED")  # set by scripts/demo
    if started:
        print(f"\nThe icon was docked {docked - float(started):.1f} s after scripts/demo started.")
    print(f"\nNo display here, so the demo ran on a virtual one. What a person would have seen:\n"
          f"  the docked icon: {out / 'icon.png'}\n  the open menu:   {out / 'menu.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
