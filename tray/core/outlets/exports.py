"""Role credentials as lines for a shell, a `.env` file or a `credential_process` (SPEC §5).

For an ordinary credential (what AWS returns: letters, digits, `+/=`, an ISO 8601 time) every format
prints exactly the lines of AWS CLI v2's `aws configure export-credentials --format …`:

| sso-tray     | AWS CLI v2      | line                                  |
|--------------|-----------------|---------------------------------------|
| bash/zsh/sh  | `env`           | `export AWS_ACCESS_KEY_ID=AKIA…`      |
| dotenv       | `env-no-export` | `AWS_ACCESS_KEY_ID=AKIA…`             |
| fish         | `fish`          | `set -gx AWS_ACCESS_KEY_ID "AKIA…"`   |
| powershell   | `powershell`    | `$Env:AWS_ACCESS_KEY_ID="AKIA…"`      |
| cmd          | `windows-cmd`   | `set AWS_ACCESS_KEY_ID=AKIA…`         |
| json         | `process`       | the credential_process Version 1 JSON |

followed, when a region is given, by `AWS_REGION` and `AWS_DEFAULT_REGION` (the AWS CLI prints no
region; the json format never carries one, as the credential_process object has no such field).
`AWS_CREDENTIAL_EXPIRATION` / `Expiration` is written as the AWS CLI writes it: Python's
`datetime.isoformat()` of botocore's UTC expiry, i.e. `2024-05-01T12:00:00+00:00`.

Where the AWS CLI pastes a value in raw, sso-tray quotes it so that *any* value arrives in the shell
unchanged and never runs anything:

- bash, zsh, sh, dotenv: a value made only of `A-Za-z0-9_@%+=:,./-` that neither starts with `=` nor
  contains `:=` (zsh expands `=cmd` in assignments) is left bare, as the AWS CLI prints it; any other
  value is put in single quotes, a `'` inside written as `'\\''`. A `.env` file is thus POSIX sh
  (`set -a; . ./.env`); dotenv loaders that do not know `'\\''` only matter for values with a `'`.
- fish: always double quotes, as the AWS CLI prints; inside them `\\`, `"` and `$` are escaped with
  a backslash (the only characters fish treats specially in double quotes; a newline stays literal).
- powershell: always double quotes, as the AWS CLI prints; inside them the characters PowerShell
  treats specially - the backtick, `$`, `"` and the typographic double quotes `“ ” „` that
  PowerShell also accepts as quotes - are escaped with a backtick, which makes each of them literal.
- cmd: a value made only of `A-Za-z0-9_@+=:,./-` is written bare (`set X=value`, as the AWS CLI);
  one with spaces or `& | < > ^ ( )` and the like is written `set "X=value"`, where cmd takes them
  literally. cmd has no quoting that protects `%` (its meaning differs between a prompt and a batch
  file), `!` (delayed expansion), `"` or a line break, so a value containing one of those (or another
  control character) raises `UsageError` rather than print a line that could do something else.
- json: `json.dumps` (indent 2, ASCII), as the AWS CLI prints it.

The AWS CLI's own format names are accepted as aliases (`env`, `env-no-export`, `windows-cmd`,
`process`).

`format_refreshing` writes the container variables of a credentials endpoint instead (`export --refreshing`):
the same quoting, after lines that remove every variable an SDK would read ahead of the endpoint (OVERRIDING:
`unset`, `set -e`, `Remove-Item Env:`, `set NAME=`). A `.env` file cannot remove anything (it is read into
a fresh environment anyway: `docker --env-file`, compose), and json gives an object of the variables with
`null` for each one to remove.
"""

from __future__ import annotations

import json
import os
import re
from datetime import timezone

from tray.core.credentials import RoleCredentials
from tray.core.errors import UsageError

FORMATS: tuple[str, ...] = ("bash", "zsh", "sh", "fish", "powershell", "cmd", "dotenv", "json")

# `aws configure export-credentials --format` names, so that a user of the AWS CLI can keep them.
ALIASES: dict[str, str] = {"env": "bash", "env-no-export": "dotenv", "windows-cmd": "cmd", "process": "json"}

CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CREDENTIAL_EXPIRATION")
CONTAINER_VARIABLES = (
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",  # botocore prefers it to FULL_URI
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",  # read before AWS_CONTAINER_AUTHORIZATION_TOKEN
)
# Everything that would make an SDK use other credentials than a credentials endpoint's: botocore reads the
# environment's keys first, then the profile named by AWS_PROFILE, and the container endpoint only after both.
OVERRIDING = CREDENTIAL_VARIABLES + CONTAINER_VARIABLES + (
    "AWS_SECURITY_TOKEN",  # the legacy name botocore still reads
    "AWS_SESSION_EXPIRATION",  # aws-vault's name for the expiry
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",  # the AWS CLI v1's
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_CREDENTIAL_FILE",  # the EC2 API tools' key file: botocore's OriginalEC2Provider reads it before the endpoint
    "BOTO_CONFIG",  # boto 2's config file: botocore's BotoProvider reads it before the endpoint
    "AWS_ACCESS_KEY",  # the AWS SDK for Java's other names for the keys, read first in its chain
    "AWS_SECRET_KEY",
)

_POSIX_BARE = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")
_CMD_BARE = re.compile(r"[A-Za-z0-9_@+=:,./-]+")
_CMD_IMPOSSIBLE = re.compile(r'[%!"\x00-\x1f\x7f]')
_PS_SPECIAL = re.compile("([`$\"\u201c\u201d\u201e])")
_FISH_SPECIAL = re.compile(r'([\\"$])')


def default_format() -> str:
    """The format `export` uses when none is chosen: bash on POSIX, powershell on Windows."""
    return "powershell" if os.name == "nt" else "bash"


def expiration_text(creds: RoleCredentials) -> str:
    """The expiry as `aws configure export-credentials` prints it (`2024-05-01T12:00:00+00:00`)."""
    t = creds.expiration
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc).replace(microsecond=0).isoformat()


def _variables(creds: RoleCredentials, region: str | None) -> list[tuple[str, str]]:
    pairs = [
        ("AWS_ACCESS_KEY_ID", creds.access_key_id),
        ("AWS_SECRET_ACCESS_KEY", creds.secret_access_key),
        ("AWS_SESSION_TOKEN", creds.session_token),
        ("AWS_CREDENTIAL_EXPIRATION", expiration_text(creds)),
    ]
    if region:
        pairs += [("AWS_REGION", region), ("AWS_DEFAULT_REGION", region)]
    return pairs


def _posix_quote(value: str) -> str:
    if _POSIX_BARE.fullmatch(value) and not value.startswith("=") and ":=" not in value:
        return value
    return "'" + value.replace("'", "'\\''") + "'"


def _fish_quote(value: str) -> str:
    return '"' + _FISH_SPECIAL.sub(r"\\\1", value) + '"'


def _powershell_quote(value: str) -> str:
    return '"' + _PS_SPECIAL.sub(r"`\1", value) + '"'


def _cmd_line(name: str, value: str) -> str:
    if _CMD_BARE.fullmatch(value):
        return f"set {name}={value}"
    if _CMD_IMPOSSIBLE.search(value):
        # Name the variable, never the value: it may be a secret.
        raise UsageError(
            f"{name} holds a character (% ! \" or a control character) that cmd cannot take safely: "
            "use --format powershell or json"
        )
    return f'set "{name}={value}"'


def _check_format(fmt: str) -> str:
    fmt = ALIASES.get(fmt, fmt)
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    return fmt


def _assignments(pairs: list[tuple[str, str]], fmt: str) -> list[str]:
    lines = []
    for name, value in pairs:
        if fmt in ("bash", "zsh", "sh"):
            lines.append(f"export {name}={_posix_quote(value)}")
        elif fmt == "dotenv":
            lines.append(f"{name}={_posix_quote(value)}")
        elif fmt == "fish":
            lines.append(f"set -gx {name} {_fish_quote(value)}")
        elif fmt == "powershell":
            lines.append(f"$Env:{name}={_powershell_quote(value)}")
        else:  # cmd
            lines.append(_cmd_line(name, value))
    return lines


def format_credentials(creds: RoleCredentials, fmt: str, region: str | None = None) -> str:
    """The lines that put `creds` (and `region`, if given) into an environment, ending with a newline."""
    fmt = _check_format(fmt)
    if fmt == "json":
        body = {
            "Version": 1,
            "AccessKeyId": creds.access_key_id,
            "SecretAccessKey": creds.secret_access_key,
            "SessionToken": creds.session_token,
            "Expiration": expiration_text(creds),
        }
        return json.dumps(body, indent=2, separators=(",", ": ")) + "\n"
    return "\n".join(_assignments(_variables(creds, region), fmt)) + "\n"


def format_refreshing(variables: dict[str, str], fmt: str, region: str | None = None) -> str:
    """The lines that point an environment at a credentials endpoint (`variables`: its container variables),
    after removing what an SDK would read first, ending with a newline."""
    fmt = _check_format(fmt)
    pairs = list(variables.items())
    if region:
        pairs += [("AWS_REGION", region), ("AWS_DEFAULT_REGION", region)]
    cleared = [name for name in OVERRIDING if name not in variables]
    if fmt == "json":
        return json.dumps({**dict.fromkeys(cleared), **dict(pairs)}, indent=2, separators=(",", ": ")) + "\n"
    if fmt in ("bash", "zsh", "sh"):
        lines = ["unset " + " ".join(cleared)]
    elif fmt == "fish":
        # `set -e` fails for a name that is not set, and fish's assignments pass that status on: without
        # `or true`, `export --refreshing --format fish | source; and CMD` would never run CMD
        lines = ["set -e " + " ".join(cleared) + "; or true"]
    elif fmt == "powershell":
        lines = ["Remove-Item " + ", ".join(f"Env:{name}" for name in cleared) + " -ErrorAction SilentlyContinue"]
    elif fmt == "cmd":
        lines = [f"set {name}=" for name in cleared]
    else:  # dotenv: nothing to remove
        lines = []
    return "\n".join(lines + _assignments(pairs, fmt)) + "\n"
