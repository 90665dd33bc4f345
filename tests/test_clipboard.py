"""The clipboard: a real X server (Xvfb), real xclip/xsel, the real detached clearing helper (SPEC §5, §8)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pyperclip
import pytest

from conftest import ROOT, need_program
from tray.core.outlets import clipboard
from tray.core.errors import AwsError

SECRET_LINES = (
    "export AWS_ACCESS_KEY_ID=ASIAEXAMPLE000000001\n"
    "export AWS_SECRET_ACCESS_KEY='wJalr/SECRET+it'\\''s ünïcødé'\n"
    "export AWS_SESSION_TOKEN=IQoJb3JpZ2luX2VjSECRETTOKEN==\n"
)


@pytest.fixture(autouse=True)
def helpers():
    """Digests of the texts a test copies; helpers still running for them are stopped at teardown."""
    digests: list[str] = []
    yield digests
    for d in digests:
        for pid in helper_pids(d):
            if running(pid):
                os.kill(pid, signal.SIGKILL)


def unique(helpers: list[str], text: str) -> str:
    """`text` made unique to this run (so that a helper left by another run cannot match it), and tracked."""
    text = f"{text}# {uuid.uuid4()}\n"
    helpers.append(clipboard.digest(text))
    return text


def paste(tool: str = "xclip") -> str:
    pyperclip.set_clipboard(tool)
    return pyperclip.paste()


def put_foreign(text: str) -> None:
    """What the person copies meanwhile (output to /dev/null: xclip stays alive holding the selection)."""
    subprocess.run(
        ["xclip", "-selection", "clipboard"],
        input=text.encode(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
        timeout=10,
    )


def helper_pids(digest: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"tray.core.outlets.clipboard" in cmd and digest.encode() in cmd:
                pids.append(int(entry.name))
    return pids


def started_helpers(text: str) -> list[int]:
    """The helper for `text`. Popen returns once exec has begun, a moment before /proc shows the new command line."""
    assert wait_until(lambda: helper_pids(clipboard.digest(text)), timeout=5), "no helper started"
    return helper_pids(clipboard.digest(text))


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.mark.parametrize("tool", ["xclip", "xsel"])
def test_copy_round_trips(xvfb, tool, tmp_path, monkeypatch, helpers):
    need_program(tool)
    if tool == "xsel":
        # Only xsel on PATH, so that pyperclip picks it.
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        (bin_dir / "xsel").symlink_to(need_program("xsel"))
        monkeypatch.setenv("PATH", str(bin_dir))
    text = unique(helpers, SECRET_LINES)
    clipboard.copy_secret(text, clear_after=None)
    assert paste(tool) == text
    assert helper_pids(clipboard.digest(text)) == []


@pytest.mark.parametrize("tool", ["xclip", "xsel"])
def test_a_paste_right_after_the_copy_gets_the_new_text(xvfb, tool, tmp_path, monkeypatch):
    """`sso-tray export P --copy && xsel -b -o`: xclip and xsel fork a child that takes the selection
    after they exit; the copy returns only once the clipboard holds the text."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / tool).symlink_to(need_program(tool))
    monkeypatch.setenv("PATH", str(bin_dir))
    for i in range(25):
        clipboard.copy_secret(f"copy {i}\n", clear_after=None)
        assert paste(tool) == f"copy {i}\n"


def test_cleared_after_the_delay(xvfb, helpers):
    need_program("xclip")
    text = unique(helpers, SECRET_LINES)
    started = time.monotonic()
    clipboard.copy_secret(text, clear_after=1)
    assert paste() == text
    pids = started_helpers(text)
    helper = Path(f"/proc/{pids[0]}")

    # The helper knows the hash only: no secret on its command line or in its environment, and it is detached.
    exposed = (helper / "cmdline").read_bytes() + (helper / "environ").read_bytes()
    for secret in ("SECRET", "wJalr", "IQoJb3"):
        assert secret.encode() not in exposed
    assert os.getsid(pids[0]) != os.getsid(0)
    assert [os.readlink(helper / "fd" / str(fd)) for fd in (0, 1, 2)] == ["/dev/null"] * 3

    assert wait_until(lambda: paste() == "", timeout=15), "the clipboard was not cleared"
    assert time.monotonic() - started >= 1.0
    assert wait_until(lambda: not running(pids[0]), timeout=5)


def test_something_copied_meanwhile_is_left_alone(xvfb, helpers):
    need_program("xclip")
    text = unique(helpers, SECRET_LINES)
    clipboard.copy_secret(text, clear_after=1)
    (pid,) = started_helpers(text)
    put_foreign("the person's own text")
    assert wait_until(lambda: not running(pid), timeout=15), "the helper did not finish"
    assert paste() == "the person's own text"


def test_no_mechanism_says_what_to_install(monkeypatch, tmp_path):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(AwsError) as err:
        clipboard.copy_secret(SECRET_LINES)
    message = str(err.value)
    assert err.value.exit_code == 4
    for package in ("xclip", "xsel", "wl-clipboard"):
        assert package in message
    assert "SECRET" not in message and "\n" not in message


def test_dead_display_is_an_error_not_silence(monkeypatch):
    need_program("xclip")
    monkeypatch.setenv("DISPLAY", ":239")  # no X server there
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(AwsError) as err:
        clipboard.copy_secret(SECRET_LINES, clear_after=None)
    assert "DISPLAY" in str(err.value) and "SECRET" not in str(err.value)


COPIER = textwrap.dedent(
    """
    import sys
    from tray.core.outlets.clipboard import copy_secret
    copy_secret(sys.stdin.read(), clear_after=30)
    print("copied")
    """
)


def test_a_captured_caller_is_not_kept_waiting(xvfb, helpers):
    """`out=$(sso-tray export P --copy)`: xclip and the helper must not hold the caller's pipes open."""
    need_program("xclip")
    text = unique(helpers, SECRET_LINES)
    env = os.environ.copy()
    env["PYTHONPATH"] = str(ROOT)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", COPIER], input=text, env=env, capture_output=True, text=True, timeout=20
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "copied\n"
    assert time.monotonic() - started < 10
    assert paste() == text
    assert len(started_helpers(text)) == 1  # stopped by the `helpers` fixture


def test_helper_refuses_bad_arguments():
    assert clipboard.main(["clear-after", "soon", "abc"]) == 2
    assert clipboard.main(["something"]) == 2


def windows_clipboard_held_by_another_program():
    """pyperclip's Windows mechanism when OpenClipboard keeps failing for its half second: it raises
    PyperclipWindowsException("Error calling OpenClipboard (…WinError…)"), whose constructor needs
    ctypes.WinError (Windows only), so it is built here without it."""
    error = pyperclip.PyperclipWindowsException.__new__(pyperclip.PyperclipWindowsException)
    RuntimeError.__init__(error, "Error calling OpenClipboard ([WinError 5] Access is denied.)")

    def copy_windows(text):
        raise error

    def paste_windows():
        raise error

    return copy_windows, paste_windows


@pytest.mark.portable
def test_a_clipboard_held_on_windows_says_so_not_install_xclip(monkeypatch):
    monkeypatch.setattr(pyperclip, "determine_clipboard", windows_clipboard_held_by_another_program)
    monkeypatch.setattr(sys, "platform", "win32")
    with pytest.raises(AwsError) as err:
        clipboard.copy_secret(SECRET_LINES, clear_after=None)
    message = str(err.value)
    assert "held by another program" in message
    assert "xclip" not in message and "install" not in message and "SECRET" not in message


@pytest.mark.portable
@pytest.mark.parametrize("platform,packages", [("linux", True), ("freebsd14", True), ("darwin", False), ("win32", False)])
def test_linux_packages_are_suggested_only_where_they_help(monkeypatch, platform, packages):
    monkeypatch.setattr(pyperclip, "determine_clipboard", pyperclip.init_no_clipboard)  # pyperclip found nothing
    monkeypatch.setattr(sys, "platform", platform)
    with pytest.raises(AwsError) as err:
        clipboard.copy_secret(SECRET_LINES, clear_after=None)
    assert ("xclip" in str(err.value)) is packages
    assert "no clipboard mechanism" in str(err.value)
