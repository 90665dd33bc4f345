"""`completion`: the scripts parse in their shells and complete commands, flags and profile names - configured
and discovered, from the files on disk, with no network and no AWS SDK."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import need_program, run_cli
from tray.core.identity.accounts import Account, Discovery, write_cache
from tray.core.identity.config import AwsConfig

BIN = str(Path(sys.executable).parent)  # where the `sso-tray` the scripts call back into lives


def completion_script(shell: str, tmp_path) -> Path:
    result = run_cli("completion", shell)
    assert result.returncode == 0, result.stderr
    path = tmp_path / f"sso-tray.{shell}"
    path.write_text(result.stdout, encoding="utf-8")
    return path


def shell_env() -> dict:
    return {**os.environ, "PATH": BIN + os.pathsep + os.environ["PATH"]}


def discovered(sso_env, accounts: int, roles: int) -> None:
    """An account cache on disk, as the tray or `sso-tray profiles` leaves it."""
    session = AwsConfig.load().session("dev")
    write_cache(session, Discovery("dev", session.start_url, datetime.now(timezone.utc), [
        Account(f"{900000000000 + i}", f"acct-{i}", roles=tuple(f"Role{j}" for j in range(roles))) for i in range(accounts)
    ]))


def bash_complete(script: Path, *words: str) -> list[str]:
    """Complete the last of `words` as bash does on Tab: COMP_WORDS/COMP_CWORD, then the function."""
    quoted = " ".join(f"'{w}'" for w in words)
    code = f'source {script}; COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; _sso_tray; printf "%s\\n" "${{COMPREPLY[@]}}"'
    out = subprocess.run([need_program("bash"), "-c", code], capture_output=True, text=True, timeout=60, env=shell_env())
    assert out.returncode == 0, out.stderr
    return [line for line in out.stdout.splitlines() if line]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_scripts_parse_in_their_shells(shell, tmp_path):
    script = completion_script(shell, tmp_path)
    out = subprocess.run([need_program(shell), "-n", str(script)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert "console" in script.read_text(encoding="utf-8") and "__complete" in script.read_text(encoding="utf-8")


def test_bash_completes_commands_flags_and_profile_names(sso_env, tmp_path):
    discovered(sso_env, 2, 2)
    script = completion_script("bash", tmp_path)
    assert bash_complete(script, "sso-tray", "con") == ["console", "configure"]
    assert bash_complete(script, "sso-tray", "export", "de") == ["dev-admin", "dev-read"]
    assert bash_complete(script, "sso-tray", "exec", "--server", "9000000000") == [
        "900000000000/Role0", "900000000000/Role1", "900000000001/Role0", "900000000001/Role1"]
    assert bash_complete(script, "sso-tray", "login", "--profile", "dev-a") == ["dev-admin"]
    assert bash_complete(script, "sso-tray", "login", "--sso-session", "") == ["dev"]
    assert bash_complete(script, "sso-tray", "export", "--f") == ["--format"]
    assert bash_complete(script, "sso-tray", "export", "--format", "fi") == ["fish"]
    assert bash_complete(script, "sso-tray", "export", "dev-admin", "") == []  # PROFILE is given already
    assert bash_complete(script, "sso-tray", "autostart", "") == ["on", "off", "status"]
    assert "bash" in bash_complete(script, "sso-tray", "exec", "dev-admin", "--", "bas")  # the command's own name


def test_bash_completes_account_names_in_any_case_in_number_order(sso_env, tmp_path):
    discovered(sso_env, 12, 2)
    script = completion_script("bash", tmp_path)
    assert bash_complete(script, "sso-tray", "export", "acct-1/") == ["acct-1/Role0", "acct-1/Role1"]
    assert bash_complete(script, "sso-tray", "console", "ACCT-1/r") == ["acct-1/Role0", "acct-1/Role1"]
    assert bash_complete(script, "sso-tray", "exec", "acct-1") == [
        "acct-1/Role0", "acct-1/Role1", "acct-10/Role0", "acct-10/Role1", "acct-11/Role0", "acct-11/Role1"]
    assert bash_complete(script, "sso-tray", "write", "900000000011/") == ["900000000011/Role0", "900000000011/Role1"]


def test_fish_completes_profile_names(sso_env, tmp_path):
    script = completion_script("fish", tmp_path)
    code = f"source {script}; complete -C 'sso-tray console dev-'"
    out = subprocess.run([need_program("fish"), "--no-config", "-c", code], capture_output=True, text=True, timeout=60, env=shell_env())
    assert out.returncode == 0, out.stderr
    assert sorted(line.split("\t")[0] for line in out.stdout.splitlines()) == ["dev-admin", "dev-read"]


def test_an_answer_with_5000_roles_is_quick_and_loads_no_aws_sdk(sso_env):
    discovered(sso_env, 1000, 5)
    code = (
        "import sys, time\n"
        "t = time.perf_counter()\n"
        "from tray.cli import main\n"
        "main(['__complete', 'profiles', '--', '900000000999/'])\n"
        "print(f'{time.perf_counter() - t:.4f}', 'botocore' in sys.modules, file=sys.stderr)\n"
    )
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    wall = time.perf_counter() - started
    assert out.stdout.split() == [f"900000000999/Role{j}" for j in range(5)]
    seconds, sdk = out.stderr.split()
    assert sdk == "False"
    # a generous bound (0.02 s here; the figure itself belongs to scripts/bench)
    assert float(seconds) < 1.0 and wall < 5, (seconds, wall)
    everything = run_cli("__complete", "profiles").stdout.split()
    assert len(everything) == 5002  # two configured profiles and 5000 discovered roles


def test_zsh_completes_an_account_name_typed_in_another_case(sso_env, tmp_path):
    """The real completion system (compinit) in an interactive zsh on a pseudo-terminal (zsh/zpty): Tab after
    `ACCT-11/ROLE1` puts the name as it is spelt on the line."""
    discovered(sso_env, 12, 2)
    script = completion_script("zsh", tmp_path)
    code = f"""
zmodload zsh/zpty
zpty z 'zsh -f -i'
zpty -w z "PS1='$ '; autoload -U compinit; compinit -u -D; source {script}; print READY"
zpty -r z line '*READY*'
zpty -w -n z $'sso-tray export ACCT-11/ROLE1\t'
zpty -r z line '*ole1*'
zpty -w -n z $'\\C-aprint -r -- LINE: \\n'
zpty -r z line '*LINE: sso-tray export acct-11/Role1*'
print FOUND
"""
    out = subprocess.run([need_program("zsh"), "-f", "-c", code], capture_output=True, text=True, timeout=60, env=shell_env())
    assert out.stdout.strip().endswith("FOUND"), (out.stdout, out.stderr)


def test_zsh_offers_profile_names_and_flags(sso_env, tmp_path):
    """The zsh function run outside a completion widget: `compadd` (a builtin only widgets may call) is
    stood in for by a function that prints the candidates matching PREFIX, as compadd would keep them."""
    script = completion_script("zsh", tmp_path)
    code = f"""
compdef() {{ :; }}
compadd() {{ local -a a; a=("$@"); for w in ${{a[$(( ${{a[(i)--]}} + 1 )),-1]}}; do [[ $w == $PREFIX* ]] && print -r -- $w; done; return 0 }}
source {script}
words=(sso-tray console dev-); CURRENT=3; PREFIX=dev-; _sso_tray
print -- ---
words=(sso-tray exec --sso-session ''); CURRENT=4; PREFIX=''; _sso_tray
print -- ---
words=(sso-tray console --pr); CURRENT=3; PREFIX=--pr; _sso_tray
"""
    out = subprocess.run([need_program("zsh"), "-f", "-c", code], capture_output=True, text=True, timeout=60, env=shell_env())
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("---\n") == ["dev-admin\ndev-read\n", "dev\n", "--print\n"]
