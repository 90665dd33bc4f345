"""The one way sso-tray writes a file: atomically, with the right mode, under a lock when asked.

A reader (sso-tray, the AWS CLI, any SDK) sees either the old file or the new one, never a mix:
the new content goes to a temporary file in the same folder, is fsynced, then renamed over the
target. A symlinked target is followed, so the link stays a link.

On Windows the rename fails while another program (an editor, an antivirus scanner, a backup tool)
holds the target open without FILE_SHARE_DELETE: a sharing violation (winerror 32) or access denied
(winerror 5). Such holds last moments, so the rename is tried again for about a second before the
writer gives up with an error that says what happened.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
import time
from pathlib import Path
from collections.abc import Callable, Iterator

from tray.core.files import paths


def resolve_target(path: Path) -> Path:
    """The file a write to `path` must replace: the end of its symlink chain."""
    return Path(os.path.realpath(path))


def atomic_write(path: Path, data: bytes | str, *, mode: int | None = None, default_mode: int = 0o600,
                 private: bool = False) -> None:
    """Replace `path` with `data` atomically.

    `mode` forces the file mode; otherwise an existing file keeps its mode and a new file gets
    `default_mode`. `private` (a file of secrets) takes group and other access away from a kept mode.
    Folders that do not exist are created private to the user (0700).
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    target = resolve_target(Path(path))
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if mode is None:
        try:
            mode = stat.S_IMODE(target.stat().st_mode)
        except FileNotFoundError:
            mode = default_mode
        if private:
            mode &= 0o700
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, mode) if hasattr(os, "fchmod") else os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)


# Windows error codes of a rename over a file that another process holds open.
SHARING_VIOLATION = (32, 5)  # ERROR_SHARING_VIOLATION, ERROR_ACCESS_DENIED
REPLACE_PAUSES = (0.05, 0.1, 0.15, 0.2, 0.25, 0.25)  # ~1 s in all


def replace(source: str | Path, target: Path) -> None:
    """`os.replace`, tried again while Windows reports the target as held open by another program."""
    for pause in (*REPLACE_PAUSES, None):
        try:
            os.replace(source, target)
            return
        except PermissionError as e:
            if getattr(e, "winerror", None) not in SHARING_VIOLATION:
                raise
            if pause is None:
                raise PermissionError(e.errno, f"another program keeps it open (Windows error {e.winerror}); "
                                                f"close it and try again", str(target)) from None
            time.sleep(pause)


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json(path: Path, obj: object, *, mode: int | None = 0o600) -> None:
    atomic_write(path, json.dumps(obj, indent=2, sort_keys=False) + "\n", mode=mode)


def private_dir(folder: Path) -> Path:
    """`folder`, made if missing, for this user alone (0700). `mkdir(mode=0o700)` leaves an existing folder's
    mode as it is, and in a folder others can write to they could replace the files in it (finder.json, the
    lock files): one of ours is narrowed to 0700, one another user owns is refused with `AwsError`."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if os.name != "posix":
        return folder  # the per-user cache folder's ACLs keep it private there
    info = os.stat(folder)
    if info.st_uid != os.geteuid():
        from tray.core.errors import AwsError

        raise AwsError(f"{folder} belongs to another user (uid {info.st_uid}), who could replace sso-tray's files in it: "
                       "remove it, and sso-tray makes its own")
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(folder, 0o700)
    return folder


def lock_path_for(path: Path) -> Path:
    """A lock file for `path`, kept in sso-tray's runtime folder so that ~/.aws stays free of lock files."""
    digest = hashlib.sha1(str(resolve_target(Path(path))).encode("utf-8")).hexdigest()
    return paths.app_locks_dir() / f"{digest}.lock"


@contextlib.contextmanager
def file_lock(path: Path, timeout: float = 30.0, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold an inter-process lock on `path` (another sso-tray process writing the same file waits).
    `on_wait` is called once if the lock is busy, before waiting for it."""
    from filelock import FileLock, Timeout

    from tray.core.errors import AwsError

    lock_file = lock_path_for(path)
    private_dir(lock_file.parent)
    lock = FileLock(str(lock_file), mode=0o600)
    try:
        try:
            lock.acquire(timeout=0)
        except Timeout:
            if on_wait is not None:
                on_wait()
            lock.acquire(timeout=timeout)
    except Timeout:
        raise AwsError(f"{path}: another sso-tray process holds its lock for more than {timeout:.0f} s") from None
    try:
        yield
    finally:
        lock.release()
