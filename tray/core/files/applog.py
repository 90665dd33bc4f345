"""The running tray's log: a rotating file in the per-user log folder (`paths.app_log_file()`; platformdirs'
user_log_dir: ~/.local/state/sso-tray/log on Linux, ~/Library/Logs/sso-tray on macOS,
%LOCALAPPDATA%\\sso-tray\\Logs on Windows), and stderr as well when there is one.

Under pythonw.exe and the windowed Windows bundle `sys.stderr` is None: without the file, every warning
and every "see the log" message would point nowhere. The file keeps a few hundred kilobytes: it is read
when something went wrong, not kept as a history.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

from tray.core.errors import TrayError
from tray.core.files import paths
from tray.core.files.fileio import private_dir

MAX_BYTES = 256 * 1024
BACKUPS = 2  # sso-tray.log.1 and .2 beside the current one
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def start(level: int = logging.INFO) -> Path | None:
    """Send the `tray` loggers' records to the log file (and to stderr when the process has one). The
    file's path, or None when its folder cannot be made (stderr alone then, as before)."""
    logger = logging.getLogger("tray")
    logger.setLevel(level)
    if sys.stderr is not None:
        stream = logging.StreamHandler()
        stream.setLevel(logging.WARNING)  # the terminal gets what it always got
        stream.setFormatter(logging.Formatter("sso-tray: %(message)s"))
        logger.addHandler(stream)
    path = paths.app_log_file()
    try:
        private_dir(path.parent)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
    except (OSError, TrayError) as e:  # unwritable, or a folder another user owns
        logger.warning("no log file (%s): %s", path, getattr(e, "strerror", None) or e)
        return None
    handler.setFormatter(logging.Formatter(FORMAT))
    logger.addHandler(handler)
    return path
