"""Writing profiles into the shared credentials file (`~/.aws/credentials`) without disturbing it (SPEC §6).

The file is someone else's: sso-tray edits it as text, one section at a time, and every byte outside
that section stays as it was - other profiles, comments, blank lines, order, unknown keys, odd spacing,
CRLF line endings, a missing final newline, bytes that are not UTF-8.

Lines are read the way botocore reads the file (configparser's `RawConfigParser`: full-line comments
start with `#` or `;`, a header is `[name]` with whitespace around the brackets allowed and the name
taken exactly as written between them, keys are `key = value` or `key: value` with the key compared
case-insensitively, an indented line continues the value above it).

Rules for the section being written (`write_profile`):
- A section that does not exist is appended at the end, after a blank line (none when the file is
  empty or already ends with a blank line), in the file's own line ending (CRLF if the file has it).
- A section that exists is edited in place. Its header line stays byte for byte. The keys sso-tray
  owns are replaced: the four credential keys, the legacy `aws_security_token` (botocore reads it
  *before* `aws_session_token`, so a stale one would shadow the new token) and every key in `values`
  (e.g. `region`). The new key lines go where the first owned key stood (right under the header when
  there was none), in the order of `values`. Everything else in the section is kept in its place:
  keys sso-tray does not own (so `output = json` or a user's own `region` survive), comment lines and
  blank lines. Comments and blank lines after the section's last key line belong, to the eye, to
  whatever follows, and are left exactly where they are.
- The same header more than once (botocore itself refuses such a file): the first is edited, the
  later ones with the same name are removed (header and keys; trailing comments stay), since they
  would otherwise shadow or contradict what was just written. Duplicates of other names are left alone.

`remove_profile` removes the section (and its duplicates) the same way; when the section was the
last thing in the file, the blank line before it (the one `write_profile` adds) goes too.

Every change holds sso-tray's lock on the file for the whole read-modify-write and goes through
`fileio.atomic_write` (temporary file, fsync, rename; the file keeps its mode, a new one is 0600, a
symlink stays a symlink and its target is replaced). A file that cannot be written raises `AwsError`
naming the file and the reason; the file is then untouched.
"""

from __future__ import annotations

import configparser
import os
import re
from dataclasses import dataclass
from pathlib import Path

from tray.core import fileio
from tray.core.credentials import RoleCredentials, format_time
from tray.core.errors import AwsError, UsageError

CREDENTIAL_KEYS: tuple[str, ...] = (
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_credential_expiration",
)
# Keys replaced in a written section even when `values` does not carry them.
_ALWAYS_OWNED = frozenset(CREDENTIAL_KEYS) | {"aws_security_token"}

_SECTCRE = configparser.RawConfigParser.SECTCRE
_OPTCRE = configparser.RawConfigParser.OPTCRE
_NONSPACECRE = re.compile(r"\S")
_COMMENT_PREFIXES = ("#", ";")
_KEY_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_ENCODING = "utf-8"


def credential_values(creds: RoleCredentials, region: str | None = None) -> dict[str, str]:
    """The keys sso-tray writes for a role: the credentials, their expiry (ISO 8601 `…Z`) and the region if known."""
    values = {
        "aws_access_key_id": creds.access_key_id,
        "aws_secret_access_key": creds.secret_access_key,
        "aws_session_token": creds.session_token,
        "aws_credential_expiration": format_time(creds.expiration),
    }
    if region:
        values["region"] = region
    return values


# --------------------------------------------------------------------------- parsing


@dataclass
class _Line:
    text: str  # the line with its own ending ("" ending only for a last line without one)
    kind: str  # "blank", "comment", "header", "key", "cont", "junk"
    key: str | None = None  # option name (lowercased) of a key line and of its continuation lines
    header: str | None = None  # the section name of a header line


@dataclass
class _Section:
    name: str
    start: int  # index of the header line
    end: int  # index after the section's last line (the next header, or len(lines))
    core_end: int  # index after the section's last key/continuation/junk line (start+1 if none)


def _split_lines(text: str) -> list[str]:
    """Lines with their endings, splitting where Python's text mode does (\\r\\n, \\r, \\n)."""
    return re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z", text)


def _ending(line: str) -> str:
    if line.endswith("\r\n"):
        return "\r\n"
    if line.endswith(("\n", "\r")):
        return line[-1]
    return ""


def _classify(lines: list[str]) -> list[_Line]:
    """Give each line the role configparser (and so botocore) gives it."""
    out: list[_Line] = []
    in_section = False
    optname: str | None = None
    indent_level = 0
    for raw in lines:
        body = raw[: len(raw) - len(_ending(raw))]
        value = body.strip()
        if not value:
            out.append(_Line(raw, "blank", key=optname))
            continue
        if value.startswith(_COMMENT_PREFIXES):
            out.append(_Line(raw, "comment", key=optname))
            continue
        first = _NONSPACECRE.search(body)
        indent = first.start() if first else 0
        if in_section and optname and indent > indent_level:
            out.append(_Line(raw, "cont", key=optname))
            continue
        indent_level = indent
        mo = _SECTCRE.match(value)
        if mo:
            in_section = True
            optname = None
            out.append(_Line(raw, "header", header=mo.group("header")))
            continue
        mo = _OPTCRE.match(value) if in_section else None
        if mo and mo.group("option").rstrip():
            optname = mo.group("option").rstrip().lower()
            out.append(_Line(raw, "key", key=optname))
        else:
            out.append(_Line(raw, "junk"))
    return out


def _sections(parsed: list[_Line]) -> list[_Section]:
    heads = [i for i, ln in enumerate(parsed) if ln.kind == "header"]
    sections = []
    for n, start in enumerate(heads):
        end = heads[n + 1] if n + 1 < len(heads) else len(parsed)
        core_end = start + 1
        for i in range(start + 1, end):
            if parsed[i].kind in ("key", "cont", "junk"):
                core_end = i + 1
        sections.append(_Section(parsed[start].header or "", start, end, core_end))
    return sections


def _check_name(name: str) -> None:
    if (
        not name
        or name != name.strip()
        or any(c in name for c in "\r\n")
        or name == configparser.DEFAULTSECT
        or _SECTCRE.match(f"[{name}]").group("header") != name
    ):
        raise UsageError(f"{name!r} cannot be a profile name in the credentials file")


def _check_values(values: dict[str, str]) -> None:
    for key, value in values.items():
        if not _KEY_RE.fullmatch(key) or key != key.lower():
            raise UsageError(f"{key!r} cannot be a key in the credentials file")
        if value != value.strip() or any(c in value for c in "\r\n") or not value:
            # Name the key only: the value may be a secret.
            raise UsageError(f"the value of {key} cannot be written to the credentials file (empty, surrounding spaces or a line break)")


# --------------------------------------------------------------------------- editing (pure)


def _detect_eol(text: str) -> str:
    m = re.search(r"\r\n|\n|\r", text)
    return m.group(0) if m else "\n"


def _set_section(text: str, name: str, values: dict[str, str]) -> str:
    lines = _split_lines(text)
    parsed = _classify(lines)
    eol = _detect_eol(text)
    new_keys = [f"{k} = {v}{eol}" for k, v in values.items()]
    matches = [s for s in _sections(parsed) if s.name == name]

    if not matches:
        out = text
        if out:
            if not _ending(lines[-1]):
                out += eol
            if lines[-1].strip():
                out += eol
        return out + f"[{name}]{eol}" + "".join(new_keys)

    owned = _ALWAYS_OWNED | set(values)
    first = matches[0]
    core: list[str] = []
    inserted = False
    for ln in parsed[first.start + 1 : first.core_end]:
        if ln.kind in ("key", "cont") and ln.key in owned:
            if not inserted:
                core += new_keys
                inserted = True
            continue
        core.append(ln.text)
    if not inserted:
        core = new_keys + core
    region = [ln if _ending(ln) else ln + eol for ln in [lines[first.start], *core]]
    if first.core_end == len(lines) and not _ending(lines[-1]):
        # The section was the end of a file without a final newline: keep it that way.
        region[-1] = region[-1][: len(region[-1]) - len(_ending(region[-1]))]

    drop = set()
    for dup in matches[1:]:
        drop.update(range(dup.start, dup.core_end))
    out_lines: list[str] = []
    for i, line in enumerate(lines):
        if i == first.start:
            out_lines += region
        elif first.start < i < first.core_end or i in drop:
            continue
        else:
            out_lines.append(line)
    return "".join(out_lines)


def _drop_section(text: str, name: str) -> str | None:
    lines = _split_lines(text)
    parsed = _classify(lines)
    matches = [s for s in _sections(parsed) if s.name == name]
    if not matches:
        return None
    drop: set[int] = set()
    for sec in matches:
        drop.update(range(sec.start, sec.core_end))
        if sec.core_end == len(lines) and sec.start > 0 and parsed[sec.start - 1].kind == "blank":
            drop.add(sec.start - 1)  # the blank line write_profile put before an appended section
    return "".join(line for i, line in enumerate(lines) if i not in drop)


def _get_section(text: str, name: str) -> dict[str, str] | None:
    parsed = _classify(_split_lines(text))
    matches = [s for s in _sections(parsed) if s.name == name]
    if not matches:
        return None
    sec = matches[0]
    result: dict[str, str] = {}
    for ln in parsed[sec.start + 1 : sec.core_end]:
        value = ln.text.strip()
        if ln.kind == "key":
            mo = _OPTCRE.match(value)
            result[ln.key] = (mo.group("value") or "").strip()
        elif ln.kind == "cont" and ln.key in result:
            result[ln.key] += "\n" + value
    return result


# --------------------------------------------------------------------------- files


def _reason(e: OSError) -> str:
    return e.strerror or type(e).__name__


def _read_text(path: Path) -> str:
    """The file's text ("" when it does not exist); bytes that are not UTF-8 survive a round trip."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return ""
    except OSError as e:
        raise AwsError(f"cannot read {path}: {_reason(e)}") from None
    return data.decode(_ENCODING, errors="surrogateescape")


def _rewrite(path: Path, edit) -> bool:
    """Under the lock: read, apply `edit(text) -> new text | None`, write atomically if it changed."""
    path = Path(path)
    try:
        with fileio.file_lock(path):
            text = _read_text(path)
            new = edit(text)
            if new is None or new == text:
                return False
            target = fileio.resolve_target(path)
            if target.exists() and not os.access(target, os.W_OK):
                raise AwsError(f"cannot write {path}: the file is read-only")
            fileio.atomic_write(path, new.encode(_ENCODING, errors="surrogateescape"))
            return True
    except OSError as e:
        raise AwsError(f"cannot write {path}: {_reason(e)}") from None


def write_profile(path: Path, name: str, values: dict[str, str]) -> None:
    """Create or replace the section `[name]` of the credentials file at `path` with `values` (see module doc)."""
    _check_name(name)
    _check_values(values)
    _rewrite(path, lambda text: _set_section(text, name, values))


def remove_profile(path: Path, name: str) -> bool:
    """Remove the section `[name]`; True when there was one."""
    _check_name(name)
    return _rewrite(path, lambda text: _drop_section(text, name))


def read_profile(path: Path, name: str) -> dict[str, str] | None:
    """The keys (lowercased) of section `[name]` as botocore reads them, or None when the file or section is missing."""
    return _get_section(_read_text(Path(path)), name)
