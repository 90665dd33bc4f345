"""The locks folder (lock files, finder.json) is this user's alone, however it came to exist."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest

from conftest import need, run_cli
from tray.core.files import fileio, paths
from tray.core.errors import AwsError


@pytest.fixture
def open_locks(home) -> Path:
    """A locks folder an older version or a hand-made `mkdir` left open to everyone (0777)."""
    folder = paths.app_locks_dir()
    folder.mkdir(parents=True)
    os.chmod(folder, 0o777)
    return folder


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_lock_narrows_an_open_locks_folder_to_0700(open_locks, home):
    with fileio.file_lock(home / ".aws" / "config"):
        assert mode(open_locks) == 0o700


def test_finder_json_is_written_only_into_a_private_folder(open_locks):
    from tray.ui.finder import channel

    channel.publish("http://127.0.0.1:1", "s3cret")
    assert mode(open_locks) == 0o700 and mode(channel.channel_file()) == 0o600


def test_the_tray_instance_lock_narrows_it_too(open_locks):
    from tray.ui.app import single_instance

    lock = single_instance()
    try:
        assert mode(open_locks) == 0o700
    finally:
        lock.release()


def test_sso_tray_commands_that_write_narrow_it(open_locks, home):
    result = run_cli("configure", "--start-url", "https://example.awsapps.com/start", "--region", "us-east-1", "--no-login")
    assert result.returncode == 0, result.stderr
    assert mode(open_locks) == 0o700


def foreign_folder(tmp_path: Path) -> Path:
    """A folder another user owns: made and given away when running as root, else the system's temp folder."""
    if os.geteuid() == 0:
        folder = tmp_path / "theirs"
        folder.mkdir(mode=0o777)
        os.chown(folder, 65534, 65534)
        return folder
    folder = Path(tempfile.gettempdir())
    need(folder.stat().st_uid != os.geteuid(), f"no folder of another user to try ({folder} is ours)")
    return folder


def test_a_folder_another_user_owns_is_refused_in_one_line_and_left_alone(tmp_path):
    folder = foreign_folder(tmp_path)
    before = mode(folder)
    with pytest.raises(AwsError) as e:
        fileio.private_dir(folder)
    assert str(folder) in str(e.value) and "another user" in str(e.value) and "\n" not in str(e.value)
    assert mode(folder) == before


def test_a_locks_folder_another_user_owns_stops_a_write_before_anything_is_written(home):
    need(os.geteuid() == 0, "giving a folder to another user needs root")
    folder = paths.app_locks_dir()
    folder.mkdir(parents=True, mode=0o777)
    os.chown(folder, 65534, 65534)
    result = run_cli("configure", "--start-url", "https://example.awsapps.com/start", "--region", "us-east-1", "--no-login")
    assert result.returncode == 4 and "another user" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (home / ".aws" / "config").exists() and os.listdir(folder) == []
