"""Names first (issue 19): a role is addressed as account-name/Role in any case in every command, messages
and `profiles` name accounts first, sorted number-aware; typos get a "did you mean"; a closed pipe ends
quietly; with no PROFILE on a terminal a picker opens (driven here in a real pty), never without one."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time

import pytest

from conftest import run_cli, sim_accounts
from tray.core.naming import close_matches, natural_key, ranked

LEGACY = """
[profile old-legacy]
sso_start_url = https://legacy.awsapps.com/start
sso_region = us-east-1
sso_account_id = 222200000000
sso_role_name = ReadOnly
"""


@pytest.fixture
def signed_in(sso_env, home):
    """Signed in to `dev`, with a signed-out legacy profile on another start URL beside it."""
    with open(home / ".aws" / "config", "a", encoding="utf-8") as config:
        config.write(LEGACY)
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    return sso_env


def json_export(*spec: str) -> dict:
    result = run_cli("export", *spec, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_natural_order_and_close_matches():
    names = ["network-17", "network-7", "Network-2", "prod-151", "prod-51", "dev"]
    assert sorted(names, key=natural_key) == ["dev", "Network-2", "network-7", "network-17", "prod-51", "prod-151"]
    assert close_matches("stauts", ["status", "login", "logout"]) == ["status"]
    roles = {f"prod-{i}/Admin": [f"prod-{i}/Admin", f"prod-{i}", "Admin"] for i in range(1, 600)}
    assert ranked("prod 51", roles)[:2] == ["prod-51/Admin", "prod-510/Admin"]
    assert ranked("PROD-7/admin", roles)[0] == "prod-7/Admin"


def test_a_role_by_account_name_in_any_case_needs_no_session_beside_a_signed_out_legacy_one(signed_in, home):
    prod = sim_accounts(signed_in)[1]
    role = prod.roles[1]
    by_id = json_export(f"{prod.account_id}/{role}")
    assert json_export(f"{prod.name.upper()}/{role.lower()}")["AccessKeyId"] == by_id["AccessKeyId"]
    assert json_export(f"{prod.name}/{role}", "--sso-session", "dev")["AccessKeyId"] == by_id["AccessKeyId"]
    # every other command takes the same address
    assert json.loads(run_cli("credential-process", f"{prod.name.upper()}/{role.lower()}").stdout)["AccessKeyId"] == by_id["AccessKeyId"]
    ran = run_cli("exec", f"{prod.name.upper()}/{role}", "--", sys.executable, "-c", "import os; print(os.environ['AWS_ACCESS_KEY_ID'])")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == by_id["AccessKeyId"]
    console = run_cli("console", f"{prod.name}/{role.upper()}", "--print",
                      env={**os.environ, "SSO_TRAY_FEDERATION_URL": f"{signed_in.url}/federation"})
    assert console.returncode == 0, console.stderr
    assert f"as {prod.name} / {role}" not in console.stdout  # the link alone on stdout
    status = run_cli("status", f"{prod.name.upper()}/{role}")
    assert status.returncode == 0 and status.stdout.startswith("dev "), status.stdout + status.stderr
    written = run_cli("write", f"{prod.name.upper()}/{role.lower()}")
    assert written.returncode == 0, written.stderr
    # a readable section, named as `configure profiles` names profiles; the message names the account first
    assert f"Wrote [{prod.name}.{role}]" in written.stdout and f"for {prod.name} / {role}" in written.stdout
    assert f"[{prod.name}.{role}]" in (home / ".aws" / "credentials").read_text(encoding="utf-8")
    # a role a configured profile points at is written under that profile's name
    configured = run_cli("write", f"{prod.name}/{prod.roles[0]}")
    assert "Wrote [dev-read]" in configured.stdout, configured.stdout


def test_an_ambiguous_name_lists_the_choices(signed_in):
    signed_in.options.account_names = ["shared", "shared", "solo"]
    assert run_cli("profiles", "--refresh", "--sso-session", "dev").returncode == 0
    accounts = sim_accounts(signed_in)
    both = set(accounts[0].roles) & set(accounts[1].roles)
    role = sorted(both)[0] if both else accounts[0].roles[0]
    result = run_cli("export", f"SHARED/{role}")
    assert result.returncode == 2
    assert "names several roles" in result.stderr and accounts[0].account_id in result.stderr
    assert result.stderr.count("\n") == 1
    assert json_export(f"solo/{accounts[2].roles[0]}")["Version"] == 1


def test_typos_get_a_did_you_mean(signed_in):
    prod = sim_accounts(signed_in)[1]
    command = run_cli("stauts")
    assert command.returncode == 2 and "did you mean status?" in command.stderr and "Traceback" not in command.stderr
    profile = run_cli("export", "dev-admn")
    assert profile.returncode == 2 and "did you mean dev-admin" in profile.stderr
    account = run_cli("export", f"prdo-1/{prod.roles[0]}")
    assert account.returncode == 2 and "did you mean prod-1?" in account.stderr
    role = run_cli("export", f"prod-1/{prod.roles[0][:-1]}")
    assert role.returncode == 2 and f"did you mean {prod.roles[0]}?" in role.stderr
    session = run_cli("profiles", "--sso-session", "dve")
    assert session.returncode == 2 and "did you mean dev?" in session.stderr


def test_profiles_sorted_by_number_with_names_first(sso_env, home):
    sso_env.options.accounts = 25
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    result = run_cli("profiles")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert not lines[0].startswith("PROFILE")  # no header for a pipe
    assert [line.split()[0] for line in lines[:2]] == ["dev-admin", "dev-read"]  # configured ones first
    discovered = [line.split()[1] for line in lines[2:]]
    network = [name for name in dict.fromkeys(discovered) if name.startswith("network-")]
    assert network == ["network-7", "network-17"]
    assert lines[2].split()[0] == f"{discovered[0]}/{lines[2].split()[3]}"  # ACCOUNT_NAME/ROLE, not the id


def test_profiles_has_a_header_on_a_terminal(signed_in, tmp_path):
    term = Terminal([sys.executable, "-m", "tray", "profiles", "--sso-session", "dev"], None, env={**os.environ, "TERM": "xterm"})
    shown = term.read_until("dev-read")
    assert term.wait() == 0
    lines = [line for line in shown.replace("\r", "").splitlines() if line.strip()]
    assert lines[0].split() == ["PROFILE", "ACCOUNT", "ACCOUNT", "ID", "ROLE", "SSO", "SESSION"]
    assert lines[1].split()[0] == "dev-admin"


def test_a_closed_pipe_ends_quietly(sso_env, home):
    sso_env.options.accounts = 300
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    assert run_cli("profiles").returncode == 0  # the accounts are cached
    cli = f"{sys.executable} -m tray"
    out = subprocess.run(["bash", "-c", f"set -o pipefail; {cli} profiles | head -1; echo status=$?"],
                         capture_output=True, text=True, timeout=60)
    assert out.stderr == "", out.stderr
    assert out.stdout.splitlines()[-1] in ("status=0", "status=141")
    assert len(out.stdout.splitlines()) == 2


class Terminal:
    """A real pseudo-terminal for one child: what it draws is read back as text."""

    def __init__(self, args, stdout_path, env=None):
        """stdin and stderr on the terminal; stdout too, or into the file `stdout_path` when one is given."""
        import pty

        self.master, slave = pty.openpty()
        os.set_blocking(self.master, False)
        self.stdout = open(stdout_path, "wb") if stdout_path else None
        self.proc = subprocess.Popen(args, stdin=slave, stdout=self.stdout or slave, stderr=slave, env=env, close_fds=True,
                                     start_new_session=True)
        os.close(slave)
        self.seen = b""
        self.mark = 0  # where the next read_until starts looking: what was drawn before does not count

    def read_until(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while text.encode() not in self.seen[self.mark:]:
            left = deadline - time.monotonic()
            assert left > 0, f"waited for {text!r}; the terminal shows {self.seen[-2000:]!r}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    self.seen += os.read(self.master, 65536)
                except OSError:  # the child closed the terminal
                    break
        assert text.encode() in self.seen[self.mark:], f"the terminal closed before {text!r}; it shows {self.seen[-2000:]!r}"
        self.mark = self.seen.index(text.encode(), self.mark) + len(text.encode())
        return self.seen.decode(errors="replace")

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def wait(self, timeout: float = 60) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"still running; the terminal shows {self.seen[-3000:]!r}") from None
        if self.stdout:
            self.stdout.close()
        os.close(self.master)
        return code


def test_the_picker_in_a_real_terminal(signed_in, tmp_path):
    staging = sim_accounts(signed_in)[2]
    out = tmp_path / "out"
    term = Terminal([sys.executable, "-m", "tray", "export", "--format", "json"], out, env={**os.environ, "TERM": "xterm"})
    term.read_until("pick a profile")
    term.read_until("dev-admin")  # the list is open before anything is typed
    term.type(f"stag {staging.roles[0][:4].lower()}")
    term.read_until(f"stag {staging.roles[0][:4].lower()}")  # echoed
    term.read_until(f"{staging.name}/{staging.roles[0]}")  # and the list narrowed to it
    term.type("\r")
    assert term.wait() == 0, term.seen[-3000:]
    picked = json.loads(out.read_text(encoding="utf-8"))
    assert picked["AccessKeyId"] == json_export(f"{staging.name}/{staging.roles[0]}")["AccessKeyId"]


def test_the_picker_leaves_on_ctrl_c_and_never_opens_without_a_terminal(signed_in, tmp_path):
    term = Terminal([sys.executable, "-m", "tray", "write"], tmp_path / "out", env={**os.environ, "TERM": "xterm"})
    term.read_until("pick a profile")
    term.type("\x03")
    assert term.wait() == 130
    for command in ("export", "exec", "console", "write"):
        result = run_cli(command, input="")
        assert result.returncode == 2, (command, result.stderr)
        assert "PROFILE" in result.stderr and result.stderr.count("\n") == 1
