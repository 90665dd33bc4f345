"""sso-tray's own settings file: a malformed one is reported and never replaced without a copy kept beside it."""

from __future__ import annotations

import json
import stat

import pytest

from tray.core.errors import ConfigError
from tray.core.files.settings import Settings, settings_path

HAND_EDITED = '{"favourites": ["prod-admin", "dev-read"], "pinned": ["prod-admin"],,}\n'  # a stray comma


def write_settings(text: str):
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_save_over_a_malformed_file_keeps_it_beside(home):
    path = write_settings(HAND_EDITED)
    settings, problem = Settings.load_or_problem()
    assert problem and str(path) in problem
    assert vars(settings) == vars(Settings())  # the defaults, while the file is bad
    settings.default_format = "fish"
    kept = settings.save()
    assert kept == path.with_name("settings.json.bad")
    assert kept.read_text(encoding="utf-8") == HAND_EDITED
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert Settings.load().default_format == "fish"


def test_an_earlier_copy_is_never_overwritten(home):
    path = write_settings(HAND_EDITED)
    Settings().save()
    second = '{"warn_minutes": "thirty"}'  # parses, but a setting has the wrong type: malformed too
    path.write_text(second, encoding="utf-8")
    with pytest.raises(ConfigError):
        Settings.load()
    kept = Settings().save()
    assert kept == path.with_name("settings.json.bad.2")
    assert kept.read_text(encoding="utf-8") == second
    assert path.with_name("settings.json.bad").read_text(encoding="utf-8") == HAND_EDITED


def test_a_good_or_missing_file_keeps_no_copy(home):
    missing, problem = Settings.load_or_problem()
    assert problem is None and vars(missing) == vars(Settings())
    assert Settings().save() is None
    settings, problem = Settings.load_or_problem()
    assert problem is None
    settings.favourites = ["dev-read"]
    assert settings.save() is None
    assert json.loads(settings_path().read_text(encoding="utf-8"))["favourites"] == ["dev-read"]
    assert sorted(p.name for p in settings_path().parent.iterdir()) == ["settings.json"]


def test_an_unreadable_settings_path_is_left_alone(home):
    path = settings_path()
    path.mkdir(parents=True)  # a folder where the file should be: nothing can be kept, so nothing is written
    with pytest.raises(ConfigError):
        Settings().save()
    assert path.is_dir() and not path.with_name("settings.json.bad").exists()


def test_entries_of_the_wrong_kind_are_dropped_one_by_one_and_named(home):
    text = json.dumps({"pinned": [{"profile": "dev-admin"}, "dev-read"], "warn_minutes": [30, "ten", 2, True],
                       "notifications": "yes", "clear_clipboard_after": 30, "newer_setting": {"x": 1}})
    path = write_settings(text)
    settings, problem = Settings.load_checked()
    assert settings.pinned == ["dev-read"] and settings.warn_minutes == [30, 2]
    assert settings.notifications is True and settings.clear_clipboard_after == 30  # the default; the good one kept
    assert problem.startswith(str(path)) and "pinned (1 of 2 entries)" in problem and "notifications" in problem
    assert "newer_setting" not in problem and "\n" not in problem
    with pytest.raises(ConfigError):
        Settings.load()  # strict: a file like this is kept as a copy before it is ever saved over
    assert Settings().save() == path.with_name("settings.json.bad")
    write_settings(json.dumps({"warn_minutes": ["ten"]}))
    assert Settings.load_checked()[0].warn_minutes == [30, 10, 2]  # none good: the defaults, not no warnings at all
