"""Export lines: real shells evaluate them and must get back exactly the values (SPEC §5)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import need_program
from tray.core.outlets import exports
from tray.core.credentials import RoleCredentials
from tray.core.errors import UsageError

NAMES = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
]

NORMAL = RoleCredentials(
    access_key_id="ASIAQEXAMPLE7KEYID42",
    secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    session_token="IQoJb3JpZ2luX2VjEHUaCXVzLWVhc3QtMSJHMEUCIQD+example/token+with/slashes==",
    expiration=datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc),
    account_id="111122223333",
)
NORMAL_EXPIRATION = "2024-05-01T12:00:00+00:00"

# Values that break naive quoting somewhere.
NASTY = [
    "it's",
    'say "hi"',
    "$(touch /tmp/sso-tray-pwned)",
    "`touch /tmp/sso-tray-pwned`",
    "$HOME and ${HOME}",
    "back\\slash\\",
    "\\'",
    "100% !history !!",
    "line one\nline two\n",
    "\r\ncarriage",
    "  spaces  ",
    "tab\there",
    "=ls",
    "a:=ls",
    "~root",
    "*",
    "a;b&c|d<e>f",
    "(sub) {brace,x} [ab]",
    "#not a comment",
    "ünïcødé ✓ 日本語 🙂",
    "\uf600\ufdd0\x1b[31m\x7f\x01",  # fish's private-use and internal code points, control characters
    "",
]

def shell_env() -> dict[str, str]:
    """A plain environment: the test's throw-away HOME, a UTF-8 locale, no AWS_ variables."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8", "HOME": os.environ["HOME"]}


def _posix_script(prefix: str = "") -> str:
    prints = " ".join(f'"${{{n}-<unset>}}"' for n in NAMES)
    return f'for f in "$@"; do {prefix}. "$f"; printf "%s\\0" {prints}; done'


def _fish_script() -> str:
    prints = " ".join(f'"${n}"' for n in NAMES)
    # An unset variable expands to nothing in fish; print a marker instead.
    marks = "; ".join(f"set -q {n}; or set -g {n} '<unset>'" for n in NAMES)
    erase = "; ".join(f"set -e {n}" for n in NAMES)
    return f"for f in $argv; {erase}; source $f; {marks}; printf '%s\\0' {prints}; end"


def evaluate(shell: str, fmt: str, files: list[Path]) -> list[list[str]]:
    """Run `shell` on each file in turn; the six variables it ends up with, per file."""
    if shell == "fish":
        argv = ["fish", "--no-config", "-c", _fish_script(), *map(str, files)]
    elif fmt == "dotenv":
        argv = [shell, "-c", "set -a; " + _posix_script("unset " + " ".join(NAMES) + "; "), "sh", *map(str, files)]
    else:
        argv = [shell, "-c", _posix_script("unset " + " ".join(NAMES) + "; "), "sh", *map(str, files)]
    if shell == "zsh":
        argv.insert(1, "-f")
    # Run in the files' folder: should a value ever escape its quotes, what it does lands there.
    proc = subprocess.run(argv, env=shell_env(), capture_output=True, timeout=60, cwd=files[0].parent)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    fields = proc.stdout.decode("utf-8").split("\0")[:-1]
    assert len(fields) == len(NAMES) * len(files), (fields, proc.stderr)
    return [fields[i : i + len(NAMES)] for i in range(0, len(fields), len(NAMES))]


def expected(creds: RoleCredentials, region: str | None) -> list[str]:
    out = [creds.access_key_id, creds.secret_access_key, creds.session_token, exports.expiration_text(creds)]
    out += [region, region] if region else ["<unset>", "<unset>"]
    return out


SHELLS = [("bash", "bash"), ("sh", "sh"), ("zsh", "zsh"), ("bash", "dotenv"), ("sh", "dotenv"), ("fish", "fish")]


def _need_shell(shell: str) -> None:
    if shell == "zsh":
        if shutil.which("zsh") is None:
            pytest.skip("zsh is not installed")
        return
    need_program(shell)


def _write(tmp_path: Path, items: list[tuple[RoleCredentials, str | None]], fmt: str) -> list[Path]:
    files = []
    for n, (creds, region) in enumerate(items):
        f = tmp_path / f"creds-{fmt}-{n}.txt"
        f.write_bytes(exports.format_credentials(creds, fmt, region).encode("utf-8"))
        files.append(f)
    return files


@pytest.mark.parametrize("shell,fmt", SHELLS)
def test_shell_gets_exact_values(tmp_path, shell, fmt):
    _need_shell(shell)
    items = [(NORMAL, None), (NORMAL, "eu-west-1")]
    for n, nasty in enumerate(NASTY):
        items.append(
            (
                RoleCredentials(nasty, nasty[::-1] + "x", "tok" + nasty, NORMAL.expiration),
                nasty if n % 2 else None,
            )
        )
    pwned = Path("/tmp/sso-tray-pwned")
    pwned.unlink(missing_ok=True)
    results = evaluate(shell, fmt, _write(tmp_path, items, fmt))
    for (creds, region), got in zip(items, results):
        assert got == expected(creds, region or None)
    assert not pwned.exists(), "a value ran a command"


def test_bash_eval_of_command_substitution(tmp_path):
    """The usual way: eval "$(sso-tray export …)"; command substitution strips trailing newlines."""
    need_program("bash")
    creds = RoleCredentials("AKIA", "sec'ret\n", "tok en\n\n", NORMAL.expiration)
    f = tmp_path / "lines"
    f.write_text(exports.format_credentials(creds, "bash", "us-east-1"), encoding="utf-8")
    script = 'eval "$(cat "$1")"; printf "%s\\0" ' + " ".join(f'"${n}"' for n in NAMES)
    proc = subprocess.run(["bash", "-c", script, "sh", str(f)], env=shell_env(), capture_output=True, timeout=30, cwd=tmp_path)
    assert proc.stdout.decode().split("\0")[:-1] == expected(creds, "us-east-1")


def test_variables_are_exported(tmp_path):
    need_program("bash")
    f = tmp_path / "lines"
    f.write_text(exports.format_credentials(NORMAL, "bash", "us-east-1"), encoding="utf-8")
    proc = subprocess.run(
        ["bash", "-c", '. "$1"; env', "sh", str(f)], env=shell_env(), capture_output=True, text=True, timeout=30
    )
    env = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    assert env["AWS_SESSION_TOKEN"] == NORMAL.session_token
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"


# Anything but NUL (which no environment variable can hold) and lone surrogates (not text).
VALUE = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
REGION = st.one_of(st.none(), st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=12))
CREDS = st.builds(
    RoleCredentials,
    access_key_id=VALUE,
    secret_access_key=VALUE,
    session_token=VALUE,
    expiration=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1), timezones=st.just(timezone.utc)
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(st.tuples(CREDS, REGION), min_size=1, max_size=6))
def test_any_value_round_trips(tmp_path, batch):
    need_program("bash")
    need_program("fish")
    for shell, fmt in [("bash", "bash"), ("fish", "fish"), ("sh", "dotenv")]:
        results = evaluate(shell, fmt, _write(tmp_path, batch, fmt))
        for (creds, region), got in zip(batch, results):
            assert got == expected(creds, region), (shell, creds.access_key_id, creds.secret_access_key, creds.session_token)


def test_normal_credential_lines_equal_aws_cli_v2():
    # Expected strings as AWS CLI v2 prints them: aws/aws-cli (v2 branch),
    # awscli/customizations/configure/exportcreds.py - BashEnvVarFormatter ('export {var_name}={var_value}'),
    # BashNoExportEnvFormatter ('{var_name}={var_value}'), PowershellFormatter ('$Env:{var_name}="{var_value}"'),
    # WindowsCmdFormatter ('set {var_name}={var_value}'), FishShellFormatter ('set -gx {var_name} "{var_value}"'),
    # CredentialProcessFormatter (json.dumps(indent=2, separators=(',', ': ')) + '\n'); the expiry is
    # botocore's datetime `.isoformat()`, i.e. '+00:00'.
    k, s, t, e = NORMAL.access_key_id, NORMAL.secret_access_key, NORMAL.session_token, NORMAL_EXPIRATION
    assert exports.format_credentials(NORMAL, "powershell") == (
        f'$Env:AWS_ACCESS_KEY_ID="{k}"\n'
        f'$Env:AWS_SECRET_ACCESS_KEY="{s}"\n'
        f'$Env:AWS_SESSION_TOKEN="{t}"\n'
        f'$Env:AWS_CREDENTIAL_EXPIRATION="{e}"\n'
    )
    assert exports.format_credentials(NORMAL, "cmd") == (
        f"set AWS_ACCESS_KEY_ID={k}\n"
        f"set AWS_SECRET_ACCESS_KEY={s}\n"
        f"set AWS_SESSION_TOKEN={t}\n"
        f"set AWS_CREDENTIAL_EXPIRATION={e}\n"
    )
    for fmt in ("bash", "zsh", "sh"):
        assert exports.format_credentials(NORMAL, fmt) == (
            f"export AWS_ACCESS_KEY_ID={k}\n"
            f"export AWS_SECRET_ACCESS_KEY={s}\n"
            f"export AWS_SESSION_TOKEN={t}\n"
            f"export AWS_CREDENTIAL_EXPIRATION={e}\n"
        )
    assert exports.format_credentials(NORMAL, "dotenv") == (
        f"AWS_ACCESS_KEY_ID={k}\nAWS_SECRET_ACCESS_KEY={s}\nAWS_SESSION_TOKEN={t}\nAWS_CREDENTIAL_EXPIRATION={e}\n"
    )
    assert exports.format_credentials(NORMAL, "fish") == (
        f'set -gx AWS_ACCESS_KEY_ID "{k}"\n'
        f'set -gx AWS_SECRET_ACCESS_KEY "{s}"\n'
        f'set -gx AWS_SESSION_TOKEN "{t}"\n'
        f'set -gx AWS_CREDENTIAL_EXPIRATION "{e}"\n'
    )
    assert exports.format_credentials(NORMAL, "json") == (
        "{\n"
        '  "Version": 1,\n'
        f'  "AccessKeyId": "{k}",\n'
        f'  "SecretAccessKey": "{s}",\n'
        f'  "SessionToken": "{t}",\n'
        f'  "Expiration": "{e}"\n'
        "}\n"
    )


def test_region_lines_follow_in_order():
    text = exports.format_credentials(NORMAL, "powershell", "eu-central-1")
    assert text.splitlines()[4:] == ['$Env:AWS_REGION="eu-central-1"', '$Env:AWS_DEFAULT_REGION="eu-central-1"']
    text = exports.format_credentials(NORMAL, "cmd", "eu-central-1")
    assert text.splitlines()[4:] == ["set AWS_REGION=eu-central-1", "set AWS_DEFAULT_REGION=eu-central-1"]
    assert [line.split("=")[0] for line in exports.format_credentials(NORMAL, "bash", "x").splitlines()] == [
        f"export {n}" for n in NAMES
    ]


def test_json_is_a_credential_process_object():
    body = json.loads(exports.format_credentials(NORMAL, "json", "eu-west-1"))
    assert body == {
        "Version": 1,
        "AccessKeyId": NORMAL.access_key_id,
        "SecretAccessKey": NORMAL.secret_access_key,
        "SessionToken": NORMAL.session_token,
        "Expiration": NORMAL_EXPIRATION,
    }
    # botocore's credential_process parser accepts it and reads the same expiry.
    from dateutil.parser import parse

    assert parse(body["Expiration"]) == NORMAL.expiration


def test_powershell_escapes_its_special_characters():
    creds = RoleCredentials('a"b', "c$d`e", "“x” „y", NORMAL.expiration)
    lines = exports.format_credentials(creds, "powershell").splitlines()
    assert lines[0] == '$Env:AWS_ACCESS_KEY_ID="a`"b"'
    assert lines[1] == '$Env:AWS_SECRET_ACCESS_KEY="c`$d``e"'
    assert lines[2] == '$Env:AWS_SESSION_TOKEN="`“x`” `„y"'


def test_cmd_quotes_what_it_can_and_refuses_the_rest():
    creds = RoleCredentials("a & b", "x|y>z", "(t) ^", NORMAL.expiration)
    assert exports.format_credentials(creds, "cmd").splitlines()[:3] == [
        'set "AWS_ACCESS_KEY_ID=a & b"',
        'set "AWS_SECRET_ACCESS_KEY=x|y>z"',
        'set "AWS_SESSION_TOKEN=(t) ^"',
    ]
    for bad in ("100%secret", "hey!", 'q"q', "two\nlines"):
        with pytest.raises(UsageError) as err:
            exports.format_credentials(RoleCredentials("AKIA", bad, "t", NORMAL.expiration), "cmd")
        assert bad not in str(err.value) and "AWS_SECRET_ACCESS_KEY" in str(err.value)


def test_unknown_format_lists_the_valid_ones():
    with pytest.raises(UsageError) as err:
        exports.format_credentials(NORMAL, "tcsh")
    assert err.value.exit_code == 2
    for name in exports.FORMATS:
        assert name in str(err.value)


def test_aws_cli_format_names_are_aliases():
    assert exports.format_credentials(NORMAL, "env") == exports.format_credentials(NORMAL, "bash")
    assert exports.format_credentials(NORMAL, "env-no-export") == exports.format_credentials(NORMAL, "dotenv")
    assert exports.format_credentials(NORMAL, "windows-cmd") == exports.format_credentials(NORMAL, "cmd")
    assert exports.format_credentials(NORMAL, "process") == exports.format_credentials(NORMAL, "json")


def test_formats_and_default(monkeypatch):
    assert exports.FORMATS == ("bash", "zsh", "sh", "fish", "powershell", "cmd", "dotenv", "json")
    assert exports.default_format() == ("powershell" if os.name == "nt" else "bash")
    monkeypatch.setattr(exports, "os", SimpleNamespace(name="nt"))
    assert exports.default_format() == "powershell"


def test_expiration_drops_fractions_and_converts_to_utc():
    from datetime import timedelta

    t = datetime(2024, 5, 1, 14, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    creds = RoleCredentials("a", "b", "c", t)
    assert exports.expiration_text(creds) == NORMAL_EXPIRATION
