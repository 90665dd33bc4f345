"""sso-tray's own settings, in the per-user config folder (`~/.config/sso-tray/settings.json` on Linux).

What the person chose: default export format, warning thresholds, clipboard clearing, favourites and
pinned profiles. A missing file means the defaults; a malformed one is reported (`load_or_problem`), and
never replaced without a copy. A file that parses but holds entries of the wrong kind (a hand edit, or a
newer version's) is used entry by entry: `load_checked` keeps the good entries, drops the others and says
which (the tray runs on that); `load` refuses such a file. Either way it is not saved over without a copy: the first save over it keeps the bad file beside it (`settings.json.bad`,
then `.bad.2`, … never over an earlier copy), so favourites and pinned profiles typed in by hand survive.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tray.core.files import paths
from tray.core.errors import ConfigError

DEFAULT_WARN_MINUTES = (30, 10, 2)


def settings_path() -> Path:
    return paths.app_config_dir() / "settings.json"


# a plain class, not a dataclass: a cached `export` loads this module (see tray/cli.py)
class Settings:
    def __init__(self) -> None:
        self.default_format: str | None = None  # None: the platform's shell (bash on POSIX, powershell on Windows)
        self.warn_minutes: list[int] = list(DEFAULT_WARN_MINUTES)
        self.clear_clipboard_after = 90  # seconds; 0 = never clear
        self.favourites: list[str] = []
        self.pinned: list[str] = []  # profiles kept fresh in the credentials file
        self.recent: list[str] = []
        self.notifications = True

    @classmethod
    def load(cls, path: Path | None = None) -> "Settings":
        """The settings in the file; ConfigError if it cannot be read or holds any entry of the wrong kind."""
        settings, problem = cls.load_checked(path)
        if problem is not None:
            raise ConfigError(problem)
        return settings

    @classmethod
    def load_checked(cls, path: Path | None = None) -> "tuple[Settings, str | None]":
        """(the settings, None), or (the good entries over the defaults, one line naming what was dropped).
        ConfigError if the file cannot be read at all."""
        path = path or settings_path()
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls(), None
        except (OSError, ValueError) as e:
            raise ConfigError(f"{path}: the settings file cannot be read ({type(e).__name__}); fix or remove it") from None
        if not isinstance(body, dict):
            raise ConfigError(f"{path}: the settings file must hold a JSON object")
        settings, dropped = cls(), []
        for key, value in body.items():
            if key not in vars(settings):
                continue  # a setting of a newer version: ignored
            kept = _checked(key, value)
            if kept is _BAD:
                dropped.append(key)
                continue
            if isinstance(value, list) and len(kept) < len(value):
                dropped.append(f"{key} ({len(value) - len(kept)} of {len(value)} entries)")
            setattr(settings, key, kept)
        if not dropped:
            return settings, None
        return settings, f"{path}: settings of the wrong kind were ignored: {', '.join(dropped)}; fix them, or change a setting to save over the file"

    @classmethod
    def load_or_problem(cls, path: Path | None = None) -> "tuple[Settings, str | None]":
        """(the settings, None), or (the defaults, why the file cannot be used) when it is malformed. The
        tray runs on the defaults, shows the problem, and saves only when the person changes a setting."""
        try:
            settings, problem = cls.load_checked(path)
        except ConfigError as e:
            return cls(), str(e)
        return (cls(), problem) if problem is not None else (settings, None)

    def save(self, path: Path | None = None) -> Path | None:
        """Write the settings. A file there that does not load is first kept beside it; returns where (else None)."""
        from tray.core.files.fileio import write_json

        path = path or settings_path()
        kept = _keep_if_malformed(path)
        write_json(path, vars(self))
        return kept


_BAD = object()
_NAME_LISTS = ("favourites", "pinned", "recent")


def _checked(key: str, value):
    """`value` as setting `key` takes it (a list keeps only its good entries), or _BAD."""
    if key in _NAME_LISTS:
        return [v for v in value if isinstance(v, str) and v] if isinstance(value, list) else _BAD
    if key == "warn_minutes":
        if not isinstance(value, list):
            return _BAD
        minutes = [m for m in value if isinstance(m, int) and not isinstance(m, bool) and m > 0]
        return minutes if minutes or not value else _BAD  # none good: the default thresholds, not none at all
    if key == "clear_clipboard_after":
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else _BAD
    if key == "notifications":
        return value if isinstance(value, bool) else _BAD
    if key == "default_format":
        return value if value is None or (isinstance(value, str) and value) else _BAD
    return _BAD


def _keep_if_malformed(path: Path) -> Path | None:
    try:
        Settings.load(path)
        return None
    except ConfigError:
        pass
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"{path}: the settings file cannot be read to keep a copy of it ({e.strerror}); fix or remove it") from None
    for n in range(1, 1000):
        copy = path.with_name(f"{path.name}.bad" + (f".{n}" if n > 1 else ""))
        try:
            fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # O_EXCL: an earlier copy stays
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        return copy
    raise ConfigError(f"{path}: the settings file does not load and too many copies of bad ones lie beside it; remove them")
