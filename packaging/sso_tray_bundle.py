"""What the three PyInstaller specs share: the entry point, hidden imports, icons drawn at build time,
the botocore models sso-tray calls, and the Linux desktop files put next to the executable.

Imported by `packaging/sso-tray-*.spec` (PyInstaller runs a spec as Python, in the build's venv, which
has the `tray` package and Pillow). No icon file is kept in the repository: they are drawn here from
`tray.ui.icons.app_icon`, the same code that draws the logo everywhere else.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

PACKAGING = Path(__file__).resolve().parent
ROOT = PACKAGING.parent
ENTRY = str(PACKAGING / "entry.py")
APP_NAME = "sso-tray"
BUNDLE_ID = "io.github.sso-tray"  # also the macOS LaunchAgent's label (tray/core/osutil/autostart.py)

# pystray chooses its backend at import time (`pystray.backend()`), out of sight of PyInstaller's
# import analysis; the ones each platform can use are named here.
HIDDEN_IMPORTS = {
    "linux": [
        "pystray._appindicator", "pystray._gtk", "pystray._xorg",
        "gi.repository.Gtk", "gi.repository.Gdk", "gi.repository.Gio", "gi.repository.GLib",
        "gi.repository.AyatanaAppIndicator3",  # the gi hook collects it only where its typelib is installed
        "gi.repository.AppIndicator3",
    ],
    "darwin": ["pystray._darwin", "tray.ui.macmenu", "tray.ui.macnotify", "UserNotifications"],
    "win32": ["pystray._win32", "tray.ui.winmenu"],
}
COMMON_HIDDEN_IMPORTS = [
    "tray.core.outlets.clipboard",  # run as `-m tray.core.outlets.clipboard` through entry.py
    "tray.core.osutil.autostart",
    "tray.ui.app",
    "tray.simulator",
    # each command's module is imported by name when it runs (tray/cli/parser.py)
    "tray.cli.session", "tray.cli.roles", "tray.cli.setup", "tray.cli.desktop", "tray.cli.demo", "tray.cli.prompt",
    "tray.cli.remote",
]
# Folders of non-Python files the bundle must carry, as pyproject's package data ships them in the wheel
# (the finder page's HTML, CSS and JavaScript).
PACKAGE_DATA = ["tray/ui/finder/static"]
# Windows: Python's UTF-8 mode in the bundle's interpreter (PyInstaller's run-time option), as `-X utf8`
# gives the Run-key command: otherwise text is read and written in the ANSI code page (cp1252, ...).
WINDOWS_PYTHON_OPTIONS = [("X utf8", None, "OPTION")]


def package_datas() -> list[tuple[str, str]]:
    """(file, folder in the bundle) for each, as PyInstaller's `datas` takes them."""
    return [(str(f), folder) for folder in PACKAGE_DATA for f in sorted((ROOT / folder).iterdir()) if f.is_file()]


EXCLUDES = [
    "tkinter", "_tkinter",
    # urllib3's optional pyOpenSSL adapter, which botocore tries and does without: it would pull in
    # `cryptography` (14 MB) from whatever else the build venv holds.
    "urllib3.contrib.pyopenssl", "OpenSSL", "cryptography",
]

# PyGObject's hooks: GTK 3 (pystray's), and none of the icon themes, GTK themes and translations the
# Gtk hook would otherwise copy (a tray menu of text items needs none of them).
GI_HOOKS_CONFIG = {"gi": {"module-versions": {"Gtk": "3.0"}, "icons": ["hicolor"], "themes": [], "languages": []}}

# botocore ships the models of ~450 services (28 MB); sso-tray's clients are these.
BOTOCORE_SERVICES = {"sso", "sso-oidc", "sts"}


def version() -> str:
    import tray

    return tray.__version__


def prune_botocore_models(datas):
    """`datas` without the models of services sso-tray never calls (endpoints, partitions and the
    other top-level files of botocore/data stay)."""
    kept = []
    for entry in datas:
        parts = Path(entry[0]).parts
        if len(parts) > 3 and parts[:2] == ("botocore", "data") and parts[2] not in BOTOCORE_SERVICES:
            continue
        kept.append(entry)
    return kept


def without_svg_loader(binaries):
    """`binaries` without GdkPixbuf's SVG loader and what only it needs: librsvg → libxml2 → ICU, 45 MB.
    The tray's icon is a PNG, and GTK 3 keeps its own symbolic icons (check marks, arrows) as PNGs."""
    dropped = ("libpixbufloader-svg.so", "librsvg-2.so", "libxml2.so", "libicu")
    return [entry for entry in binaries if not Path(entry[0]).name.startswith(dropped)]


def strip_debug_info(bundle: Path) -> None:
    """Remove debug sections from the Python runtime (a Python built from source keeps them: 25 MB).
    Only libpython and the standard library's extensions: the wheels' own libraries are left alone,
    since stripping a library that auditwheel/patchelf rewrote can break it."""
    strip = shutil.which("strip")
    if strip is None:
        return
    internal = bundle / "_internal"
    targets = [*internal.glob("libpython3*.so*"), *internal.glob("python3*/lib-dynload/*.so")]
    if targets:
        subprocess.run([strip, "--strip-debug", *map(str, targets)], check=True)


def icons_dir(workpath: str) -> Path:
    folder = Path(workpath) / "icons"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_ico(workpath: str) -> str:
    """The Windows icon: every size Explorer and the taskbar ask for, each drawn at its own size."""
    from tray.ui.icons import app_icon

    sizes = (16, 20, 24, 32, 40, 48, 64, 128, 256)
    path = icons_dir(workpath) / f"{APP_NAME}.ico"
    app_icon(256).save(path, format="ICO", sizes=[(s, s) for s in sizes], append_images=[app_icon(s) for s in sizes[:-1]])
    return str(path)


def write_icns(workpath: str) -> str:
    """The macOS icon: 16…512 pt at 1× and 2× (32…1024 px), each size drawn at its own size."""
    from tray.ui.icons import app_icon

    path = icons_dir(workpath) / f"{APP_NAME}.icns"
    app_icon(1024).save(path, format="ICNS", append_images=[app_icon(s) for s in (32, 64, 128, 256, 512)])
    return str(path)


def add_linux_desktop_files(bundle: Path) -> None:
    """`share/applications/sso-tray.desktop` and the logo in every hicolor size under `share/icons`,
    laid out as under /usr or ~/.local, so installing is copying `share/` (see packaging/build)."""
    from tray.ui.icons import save_app_icons

    applications = bundle / "share" / "applications"
    applications.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PACKAGING / f"{APP_NAME}.desktop", applications / f"{APP_NAME}.desktop")
    save_app_icons(bundle / "share" / "icons" / "hicolor")
