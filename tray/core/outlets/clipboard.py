"""Putting a secret on the clipboard, and taking it off again later (SPEC §5, §8).

`copy_secret` puts the text on the clipboard through pyperclip's chosen mechanism and, when asked,
starts a small detached process (`python -m tray.core.outlets.clipboard clear-after SECONDS SHA256`) that
knows only the SHA-256 of what was copied. It sleeps, then empties the clipboard if - and only if -
the clipboard still holds that text, so something the person copied in the meantime is left alone.
The secret itself never appears on a command line or in an environment variable; the helper outlives
the command (its own session, no inherited stdin/stdout/stderr), so `sso-tray export --copy` returns
at once.

The command-line mechanisms (xclip, xsel, wl-copy) leave a process running that owns the selection.
pyperclip starts them with the caller's stdout and stderr, which would keep a pipe reading sso-tray's
output (`$(sso-tray export P --copy)`, a test's `capture_output`) open until that process exits; so
for these three sso-tray runs pyperclip's own command with its output sent to /dev/null instead, and
checks that it succeeded (xclip without a usable display fails). Every other mechanism (Windows,
macOS, klipper, Qt) is pyperclip's as it is.

The helper compares texts with Windows line endings turned into `\\n`, so a clipboard that
converts line endings still counts as holding what sso-tray put there.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

from tray.core.errors import AwsError

DEFAULT_CLEAR_AFTER = 90.0
NO_MECHANISM = "no clipboard mechanism found: install xclip, xsel or wl-clipboard (and run inside a desktop session)"
# Windows lets one program at a time open the clipboard; pyperclip tries for half a second.
HELD = "the clipboard is held by another program (Windows could not open it): try again in a moment"

# pyperclip's copy functions for the command-line mechanisms, and the same command run quietly.
_COMMANDS = {
    "copy_xclip": ["xclip", "-selection", "c"],
    "copy_xsel": ["xsel", "-b", "-i"],
    "copy_wl": ["wl-copy"],
}


def digest(text: str) -> str:
    """The SHA-256 (hex) the clearing helper compares the clipboard against."""
    return hashlib.sha256(text.replace("\r\n", "\n").encode("utf-8", errors="surrogatepass")).hexdigest()


def _mechanism():
    """pyperclip's (copy, paste) for this environment, chosen afresh (DISPLAY may have changed)."""
    import pyperclip

    return pyperclip.determine_clipboard()


def available() -> bool:
    """Whether pyperclip finds a clipboard mechanism here (what to offer; a copy can still fail)."""
    return type(_mechanism()[0]).__name__ != "ClipboardUnavailable"


def _copy(text: str) -> None:
    import pyperclip

    copy, paste = _mechanism()
    if not available():  # pyperclip found nothing to use
        # only Linux and the BSDs need a package for it; Windows and macOS always have their own
        raise AwsError(NO_MECHANISM if sys.platform not in ("win32", "cygwin", "darwin") else "no clipboard mechanism found")
    argv = _COMMANDS.get(getattr(copy, "__name__", ""))
    if argv is None:
        try:
            copy(text)
        except pyperclip.PyperclipWindowsException:
            raise AwsError(HELD) from None
        except pyperclip.PyperclipException as e:
            raise AwsError(f"cannot use the clipboard: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
        return
    if argv[0] == "wl-copy" and not text:
        argv = [*argv, "--clear"]
    try:
        proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True
        )
        proc.communicate(input=text.encode("utf-8"), timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AwsError(f"{argv[0]} did not take the text within 30 s") from None
    except OSError as e:
        raise AwsError(f"cannot run {argv[0]}: {e.strerror or e}") from None
    if proc.returncode != 0:
        where = "WAYLAND_DISPLAY" if argv[0] == "wl-copy" else "DISPLAY"
        raise AwsError(f"{argv[0]} could not set the clipboard (exit {proc.returncode}): is {where} a running display?")
    _until_held(text, paste)


def _until_held(text: str, paste, timeout: float = 2.0) -> None:
    """xclip and xsel exit before the child they fork owns the selection, so a paste at once can still
    get the old text (xsel: about one time in three here): wait until the clipboard holds `text`."""
    deadline = time.monotonic() + timeout
    want = digest(text)
    while True:
        try:
            if digest(paste()) == want:
                return
        except Exception:
            return  # nothing to read it back with: the copy itself succeeded
        if time.monotonic() >= deadline:
            return
        time.sleep(0.01)


def _paste() -> str:
    _copy_fn, paste = _mechanism()
    return paste()


def helper_argv(seconds: float, sha256hex: str) -> list[str]:
    """The command line of the clearing helper: no secret in it, only the hash."""
    return [sys.executable, "-m", "tray.core.outlets.clipboard", "clear-after", f"{seconds:g}", sha256hex]


def copy_secret(text: str, clear_after: float | None = DEFAULT_CLEAR_AFTER) -> None:
    """Put `text` on the clipboard; after `clear_after` seconds (None or 0: never) clear it if it is still there.

    Raises `AwsError` (exit code 4) naming the cause: no mechanism (on Linux: what to install), a
    clipboard held by another program (Windows), or the mechanism's own failure.
    """
    _copy(text)
    if clear_after:
        _start_helper(float(clear_after), digest(text))


def _start_helper(seconds: float, sha256hex: str) -> None:
    kwargs: dict = {
        # From the folder that holds the `tray` package, so that `-m tray.core.outlets.clipboard` resolves
        # even when sso-tray runs from a source checkout, and no user folder is kept busy.
        "cwd": str(Path(__file__).resolve().parents[2]),
        "stdin": subprocess.DEVNULL,
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
        "close_fds": True,
    }
    if os.name == "nt":
        kwargs["creationflags"] = subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP
    else:
        kwargs["start_new_session"] = True
    try:
        subprocess.Popen(helper_argv(seconds, sha256hex), **kwargs)
    except OSError as e:
        # The text is on the clipboard; only the clearing could not be arranged.
        raise AwsError(f"copied, but cannot start the clipboard-clearing helper: {e.strerror or e}") from None


def clear_if_unchanged(sha256hex: str) -> bool:
    """Empty the clipboard if it holds the text with this hash; True when it did."""
    try:
        current = _paste()
    except Exception:
        return False
    if not current or digest(current) != sha256hex:
        return False
    _copy("")
    return True


def main(argv: list[str]) -> int:
    """`clear-after SECONDS SHA256`: the detached helper's work."""
    if len(argv) != 3 or argv[0] != "clear-after":
        print("usage: python -m tray.core.outlets.clipboard clear-after SECONDS SHA256", file=sys.stderr)
        return 2
    try:
        seconds = float(argv[1])
    except ValueError:
        return 2
    deadline = time.time() + seconds
    while (left := deadline - time.time()) > 0:  # wall clock, so a suspended laptop clears on resume
        time.sleep(min(left, 5.0))
    try:
        clear_if_unchanged(argv[2].lower())
    except Exception:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
