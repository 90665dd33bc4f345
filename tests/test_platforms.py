"""macOS and Windows, proven on any OS: what our code hands to pystray's native backends and to the OS.

The Windows text limits are read from pystray's own NOTIFYICONDATAW (its `_util/win32.py`, parsed, not
imported: it loads windll) and enforced by a ctypes structure with the same fields, so a text that
passes here is one pystray 0.19.5 can assign on Windows.
"""

from __future__ import annotations

import ast
import ctypes
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import run_cli, sim_account, sim_role, write_config
from tray.core.files import fileio, paths
from tray.core.engine.state import EXPIRING, SIGNED_OUT, VALID, SessionView, State
from tray.ui import platform as tray_platform
from tray.ui.menu import tooltip
from tray.ui.notify import PystrayNotifier, notification_text
from tray.ui.platform import fit, text_length, text_limits

pytestmark = pytest.mark.portable

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


def pystray_notifyicondata_sizes() -> dict[str, int]:
    """The WCHAR array sizes of pystray's NOTIFYICONDATAW, from its source."""
    spec = importlib.util.find_spec("pystray")
    if spec is None:
        pytest.fail("pystray is not installed (the tray extra)")
    source = Path(spec.origin).parent / "_util" / "win32.py"
    sizes = {}
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Tuple) and len(node.elts) == 2 and isinstance(node.elts[0], ast.Constant):
            kind = node.elts[1]
            if isinstance(kind, ast.BinOp) and ast.unparse(kind.left) == "wintypes.WCHAR":
                sizes[node.elts[0].value] = kind.right.value
    assert {"szTip", "szInfo", "szInfoTitle"} <= set(sizes), sizes
    return sizes


class NotifyIconData(ctypes.Structure):
    """The text fields of NOTIFYICONDATAW as pystray assigns them (ctypes raises ValueError for a text
    longer than the array). On Linux a wchar is 4 bytes, so the check counts UTF-16 units itself."""

    _fields_ = [(name, ctypes.c_wchar * size) for name, size in pystray_notifyicondata_sizes().items()]

    def __init__(self, **texts: str):
        for name, text in texts.items():
            size = dict(self._fields_)[name]._length_
            if text_length(text) >= size:  # one unit stays for the NUL that Windows reads up to
                raise ValueError(f"{name}: {text_length(text)} UTF-16 units do not fit WCHAR[{size}]")
        super().__init__(**texts)


def test_the_windows_limits_are_pystrays_arrays_less_the_nul():
    sizes = pystray_notifyicondata_sizes()
    limits = text_limits("win32")
    assert limits.tooltip == sizes["szTip"] - 1 == 127
    assert limits.notification_title == sizes["szInfoTitle"] - 1 == 63
    assert limits.notification_body == sizes["szInfo"] - 1 == 255
    assert text_limits("cygwin") == limits
    assert text_limits("darwin").tooltip is None and text_limits("linux").notification_body is None


@pytest.mark.parametrize("text", ["a" * 300, "ab" * 100 + "😀" * 50, "😀" * 200, "short"])
@pytest.mark.parametrize("middle", [False, True])
def test_fit_counts_utf16_units_and_marks_the_cut(text, middle):
    for limit in (1, 2, 63, 127, 255):
        cut = fit(text, limit, middle=middle)
        assert text_length(cut) <= limit
        if text_length(text) <= limit:
            assert cut == text
        else:
            assert "…" in cut
            head, _, tail = cut.partition("…")
            assert text.startswith(head) and text.endswith(tail)
    assert fit(text, None) == text


def sessions(n: int, name_length: int) -> tuple[SessionView, ...]:
    names = [f"{i}-" + "n" * (name_length - len(f"{i}-")) for i in range(n)]
    return tuple(
        SessionView(name, (VALID, EXPIRING, SIGNED_OUT)[i % 3], expires_at=None if i % 3 == 2 else NOW + timedelta(hours=i + 1, minutes=5),
                    lifetime=timedelta(hours=8))
        for i, name in enumerate(names)
    )


@pytest.mark.parametrize("count,length", [(10, 200), (10, 8), (1, 200), (3, 4), (40, 1)])
def test_tooltip_with_many_long_sessions_fits_windows(count, length):
    state = State(NOW, sessions(count, length))
    text = tooltip(state, "win32")
    NotifyIconData(szTip=text)  # what pystray's _show/_update_title assign
    assert text.startswith("sso-tray — 0-")
    assert "left, until" in text, "the first session's time left is what the tooltip is for"
    full = tooltip(state, "linux")
    if text != full:
        shown = text.count(" · ") + 1 - ("more" in text)
        assert f" · +{count - shown} more" in text or (count == 1 and "…" in text)
    assert all(s.name in full for s in state.sessions), "no limit on Linux: every session whole"


def test_short_tooltips_are_not_cut_anywhere():
    state = State(NOW, sessions(3, 4))
    assert tooltip(state, "win32") == tooltip(state, "linux") == tooltip(state, "darwin")
    assert tooltip(State(NOW, problem="x" * 500), "win32").endswith("…")


def engine_texts(name: str) -> list[tuple[str, str]]:
    """The texts the engine notifies with (tray/core/engine/engine.py: a warning, a pinned profile's failure)."""
    return [
        (f"AWS session {name} expires in 1h 59m", f"Sign in again to keep your AWS credentials working after 13:59 ({name})."),
        (f"{name} can no longer be kept fresh", f"{name}: " + "the session expired; " * 30),
        ("", "x"),
    ]


@pytest.mark.parametrize("name", ["n" * 200, "p" * 40 + "😀" * 30, "dev"])
def test_notification_texts_fit_windows_balloons(name):
    for title, body in engine_texts(name):
        t, b = notification_text(title, body, "win32")
        NotifyIconData(szInfoTitle=t, szInfo=b)
        assert t and b
        if title.endswith("expires in 1h 59m"):
            assert t.startswith("AWS session ") and t.endswith(" expires in 1h 59m")
        assert notification_text(title, body, "linux") == (title or "sso-tray", body)


class WindowsIcon:
    """pystray's win32 Icon as far as notify goes: `_notify` builds NOTIFYICONDATAW(szInfo=message,
    szInfoTitle=title or self.title or '')."""

    def __init__(self, title: str):
        self.title = title
        self.shown: list[tuple[str, str]] = []

    def notify(self, message, title=None):
        NotifyIconData(szInfo=message, szInfoTitle=title or self.title or "")
        self.shown.append((title, message))


def test_the_pystray_notifier_on_windows_cuts_before_pystray(monkeypatch):
    monkeypatch.setattr(sys, "platform", "win32")
    icon = WindowsIcon(tooltip(State(NOW, sessions(10, 200)), "win32"))
    notifier = PystrayNotifier(icon)
    for title, body in engine_texts("n" * 200):
        notifier.notify(title, body, {"sign-in": "Sign in again"}, lambda _a: None)
    assert len(icon.shown) == 3
    assert icon.shown[2][0] == "sso-tray"


# --- macOS: the activation policy -----------------------------------------------------------------


class AppKitDouble:
    """PyObjC's AppKit as far as prepare_app uses it: records the policy set on the shared application."""

    NSApplicationActivationPolicyRegular = 0
    NSApplicationActivationPolicyAccessory = 1

    def __init__(self):
        self.policies: list[int] = []
        appkit = self

        class NSApplication:
            @staticmethod
            def sharedApplication():
                return NSApplication

            @staticmethod
            def setActivationPolicy_(policy):
                appkit.policies.append(policy)
                return True

        self.NSApplication = NSApplication


def test_macos_runs_as_an_accessory_with_no_dock_icon():
    appkit = AppKitDouble()
    assert tray_platform.prepare_app("darwin", appkit) is True
    assert appkit.policies == [AppKitDouble.NSApplicationActivationPolicyAccessory]


@pytest.mark.parametrize("platform", ["linux", "win32"])
def test_other_platforms_leave_appkit_alone(platform):
    appkit = AppKitDouble()
    assert tray_platform.prepare_app(platform, appkit) is False
    assert appkit.policies == []


def test_the_tray_sets_the_policy_before_its_run_loop(monkeypatch):
    """TrayApp.run on "macOS": the policy is in place when pystray's run loop starts."""
    from tray.ui.app import TrayApp

    appkit = AppKitDouble()
    monkeypatch.setitem(sys.modules, "AppKit", appkit)
    monkeypatch.setattr(sys, "platform", "darwin")
    policies_at_run = []

    class Icon:
        def run(self, setup=None):
            policies_at_run.append(list(appkit.policies))

    app = object.__new__(TrayApp)  # no display, no engine: only run() is under test
    app.backend, app.icon = None, Icon()
    app.run()
    assert policies_at_run == [[AppKitDouble.NSApplicationActivationPolicyAccessory]]


# --- Windows: a rename over a file another program holds open ----------------------------------------


def sharing_violation(winerror: int = 32) -> PermissionError:
    """What os.replace raises on Windows while a reader holds the target open without FILE_SHARE_DELETE
    (winerror is only filled in by Windows itself, so it is set here)."""
    e = PermissionError(13, "The process cannot access the file because it is being used by another process")
    e.winerror = winerror
    return e


class HeldOpen:
    """os.replace that fails as Windows does while another program holds the file, `times` times."""

    def __init__(self, times: int, winerror: int = 32):
        self.times, self.winerror, self.calls = times, winerror, 0
        self.real = os.replace

    def __call__(self, src, dst):
        self.calls += 1
        if self.calls <= self.times:
            raise sharing_violation(self.winerror)
        return self.real(src, dst)


@pytest.mark.parametrize("winerror", [32, 5])
def test_atomic_write_waits_out_a_reader_holding_the_file(tmp_path, monkeypatch, winerror):
    target = tmp_path / "aws" / "credentials"
    target.parent.mkdir()
    target.write_text("[old]\n", encoding="utf-8")
    held = HeldOpen(2, winerror)
    monkeypatch.setattr(os, "replace", held)
    fileio.atomic_write(target, "[new]\n")
    assert held.calls == 3
    assert target.read_text(encoding="utf-8") == "[new]\n"
    assert [p.name for p in target.parent.iterdir()] == ["credentials"], "no temporary file left behind"


def test_a_file_held_for_good_is_one_clear_error_and_the_old_file_stays(tmp_path, monkeypatch):
    target = tmp_path / "aws" / "credentials"
    target.parent.mkdir()
    target.write_text("[old]\n", encoding="utf-8")
    held = HeldOpen(1000)
    monkeypatch.setattr(os, "replace", held)
    started = time.monotonic()
    with pytest.raises(PermissionError) as err:
        fileio.atomic_write(target, "[new]\n")
    assert 0.8 <= time.monotonic() - started < 5
    assert 3 <= held.calls <= 10
    assert "another program keeps it open" in err.value.strerror and err.value.filename == str(target)
    assert target.read_text(encoding="utf-8") == "[old]\n"
    assert [p.name for p in target.parent.iterdir()] == ["credentials"]


def test_other_permission_errors_are_not_retried(tmp_path, monkeypatch):
    calls = []

    def denied(src, dst):
        calls.append(dst)
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", denied)
    with pytest.raises(PermissionError, match="Permission denied"):
        fileio.atomic_write(tmp_path / "f", "x")
    assert len(calls) == 1


# --- Windows: console output in any code page ------------------------------------------------------------


UNICODE_CONFIG = """[sso-session 開発]
sso_start_url = https://example.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access

[profile zürich-admin]
sso_session = 開発
sso_account_id = {account}
sso_role_name = {role}
"""


@pytest.mark.parametrize("encoding", ["cp932", "cp1252", "cp949"])
def test_status_and_profiles_survive_a_console_code_page(sso_env, home, encoding, monkeypatch):
    """Redirected output on Windows is encoded in the console's code page (PYTHONIOENCODING does the
    same here): "—", "…", a session named 開発 and an account named "Zürich — 本番" must not crash it."""
    sim = sso_env
    monkeypatch.setenv(paths.ROOT_ENV, str(home))  # HOME alone does not keep Windows out of the real ~/.aws
    sim.options.account_names = ["Zürich — 本番 …", "Ωmega"]
    write_config(home, UNICODE_CONFIG.format(account=sim_account(sim, 0), role=sim_role(sim, 0)))
    # the device flow, which the simulator approves by itself: no browser to start (BROWSER parsing differs on Windows)
    assert run_cli("login", "--sso-session", "開発", "--device-code", "--no-browser").returncode == 0

    env = {**os.environ, "PYTHONIOENCODING": encoding}
    for args, code in ((["status"], 0), (["profiles", "--refresh"], 0), (["logout"], 0), (["status"], 3)):
        result = subprocess.run([sys.executable, "-m", "tray", *args], env=env, capture_output=True, timeout=60)
        out, err = result.stdout.decode(encoding), result.stderr.decode(encoding)
        assert result.returncode == code, (args, out, err)
        assert "Traceback" not in err and "internal error" not in err, err
        assert "—" not in out or encoding == "cp1252"  # cp1252 has the dash itself
        if args == ["status"] and code == 0:
            assert " left, until " in out and out.split(" ")[1] in ("-", "—")
        if args[0] == "profiles":
            assert "zürich-admin" in out or "zurich-admin" in out
            assert "Zurich - " in out or "Zürich — " in out or "Zürich - " in out, out


def test_output_survives_a_code_page_opened_with_surrogateescape(home, monkeypatch):
    """Under Wine (the Windows lane) Windows Python opens a redirected stdout as cp1252 with
    errors="surrogateescape", not "strict": that handler passes 開発 on to fail just the same."""
    monkeypatch.setenv(paths.ROOT_ENV, str(home))
    write_config(home, UNICODE_CONFIG.format(account="111100000000", role="AdministratorAccess"))
    env = {**os.environ, "PYTHONIOENCODING": "cp1252:surrogateescape"}
    result = subprocess.run([sys.executable, "-m", "tray", "status"], env=env, capture_output=True, timeout=60)
    out, err = result.stdout.decode("cp1252"), result.stderr.decode("cp1252")
    assert result.returncode == 3, (out, err)  # signed out, said in one line
    assert "internal error" not in err and "Traceback" not in err, err
    assert out.startswith("?? ") or out.startswith("開発"), out


# --- Windows: the demo kept in its own folder ------------------------------------------------------------


@pytest.fixture
def simulated_windows(tmp_path, monkeypatch):
    """Path resolution as on Windows: `~` is %USERPROFILE% (HOME is ignored) and platformdirs is its
    Windows class, reading %APPDATA%/%LOCALAPPDATA% (what the shell's known folders hold). The person's
    real profile is a folder of its own, outside the test's HOME."""
    import platformdirs
    import platformdirs.windows

    profile = tmp_path / "Users" / "Ann"
    monkeypatch.setenv("USERPROFILE", str(profile))
    monkeypatch.setenv("APPDATA", str(profile / "AppData" / "Roaming"))
    monkeypatch.setenv("LOCALAPPDATA", str(profile / "AppData" / "Local"))
    real_expanduser = os.path.expanduser
    monkeypatch.setattr(os.path, "expanduser", lambda p: str(profile) + p[1:] if p.startswith("~") else real_expanduser(p))
    monkeypatch.setattr(platformdirs, "PlatformDirs", platformdirs.windows.Windows)
    # public names: the private resolver behind them is named differently in 4.12 (Python 3.10 gets it) and 4.14
    monkeypatch.setattr(platformdirs.windows, "get_win_folder", platformdirs.windows.get_win_folder_from_env_vars)
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_ENDPOINT_URL_SSO", "AWS_ENDPOINT_URL_SSO_OIDC", paths.ROOT_ENV):
        monkeypatch.delenv(name, raising=False)  # so that monkeypatch restores what the demo sets
    return profile


def every_path() -> dict[str, Path]:
    return {name: getattr(paths, name)() for name in (
        "aws_config_file", "credentials_file", "sso_cache_dir", "cli_cache_dir", "app_config_dir", "app_cache_dir", "app_locks_dir",
    )}


def test_the_demo_on_windows_stays_in_its_own_folder_and_lock(simulated_windows):
    from tray.cli import demo
    from tray.ui.app import AlreadyRunning, single_instance

    real = every_path()
    assert all(p.is_relative_to(simulated_windows) for p in real.values()), real  # the simulation holds
    real_tray = single_instance()  # the person's own tray is running
    sim, root = demo.prepare(accounts=2)
    try:
        demo_paths = every_path()
        for name, path in demo_paths.items():
            assert path.is_relative_to(root), f"{name}: {path} is outside the demo's folder {root}"
        assert os.environ["AWS_CONFIG_FILE"] == str(demo_paths["aws_config_file"])  # what botocore reads
        assert os.environ["AWS_SHARED_CREDENTIALS_FILE"] == str(demo_paths["credentials_file"])
        demo.sign_in(sim)  # the real PKCE flow and the token cache, through the paths module
        demo_tray = single_instance()  # a second lock, not "already running"
        demo_tray.release()
        assert list(demo_paths["sso_cache_dir"].glob("*.json"))
        assert not (simulated_windows / ".aws").exists(), "nothing written in the real profile's .aws"
        os.environ.pop(paths.ROOT_ENV)
        with pytest.raises(AlreadyRunning):  # without the root it is the real tray's lock, which is held
            single_instance()
    finally:
        sim.stop()
        real_tray.release()
        shutil.rmtree(root)


# --- on the platforms themselves (the CI's macOS and Windows jobs) -----------------------------------------


@pytest.mark.skipif(sys.platform != "win32", reason="a real sharing violation needs Windows")
def test_on_windows_a_reader_holding_the_file_only_delays_the_write(tmp_path):
    """Python opens files without FILE_SHARE_DELETE, so a rename over an open file fails on Windows
    as it does while an editor or a scanner holds the credentials file."""
    import threading

    target = tmp_path / "aws" / "credentials"
    target.parent.mkdir()
    target.write_text("[old]\n", encoding="utf-8")
    reader = target.open("rb")
    threading.Timer(0.3, reader.close).start()
    fileio.atomic_write(target, "[new]\n")
    assert reader.closed and target.read_text(encoding="utf-8") == "[new]\n"


@pytest.mark.skipif(sys.platform != "win32", reason="pystray's real NOTIFYICONDATAW loads on Windows only")
def test_on_windows_pystrays_own_structure_takes_our_texts_and_refuses_longer_ones():
    from pystray._util import win32

    state = State(NOW, sessions(10, 200))
    title, body = notification_text(*engine_texts("n" * 200)[0], "win32")
    win32.NOTIFYICONDATAW(szTip=tooltip(state), szInfoTitle=title, szInfo=body)  # sys.platform: the real limits
    with pytest.raises(ValueError):
        win32.NOTIFYICONDATAW(szTip=tooltip(state, "linux"))  # uncut: what pystray would have raised


@pytest.mark.skipif(sys.platform != "win32", reason="the real registry is only on Windows")
def test_on_windows_the_run_value_and_its_switch_in_the_real_registry():
    """The Run and StartupApproved logic through winreg itself, in keys of the test's own."""
    import uuid

    import winreg

    from tray.core.osutil.autostart import RunKey, WindowsRegistry

    base = rf"Software\sso-tray-tests\{uuid.uuid4()}"
    registry, approved = WindowsRegistry(rf"{base}\Run"), WindowsRegistry(rf"{base}\StartupApproved")
    run = RunKey(registry, approved)
    try:
        run.enable(["C:\\Program Files\\sso-tray\\sso-tray.exe", "run"])
        assert run.is_enabled()
        approved.set("sso-tray", bytes([0x03, 0, 0, 0]) + bytes(8))  # switched off in Task Manager
        assert not run.is_enabled()
        run.enable(["C:\\Program Files\\sso-tray\\sso-tray.exe", "run"])
        assert run.is_enabled() and approved.get("sso-tray")[0] == 0x02
        run.disable()
        assert registry.get("sso-tray") is None and approved.get("sso-tray") is None
    finally:
        for key in (rf"{base}\Run", rf"{base}\StartupApproved", base, r"Software\sso-tray-tests"):
            try:
                winreg.DeleteKey(winreg.HKEY_CURRENT_USER, key)
            except OSError:
                pass  # gone already, or (the last one) still used by another run


@pytest.mark.skipif(sys.platform != "darwin", reason="AppKit is only on macOS")
def test_on_macos_the_real_application_becomes_an_accessory():
    import AppKit

    assert tray_platform.prepare_app() is True
    app = AppKit.NSApplication.sharedApplication()
    assert app.activationPolicy() == AppKit.NSApplicationActivationPolicyAccessory
