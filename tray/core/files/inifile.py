"""Editing an AWS INI file (`~/.aws/credentials`, `~/.aws/config`) one section at a time, keeping every other byte.

The files are someone else's: sso-tray edits them as text, and every byte outside the sections it
changes stays as it was - other sections, comments, blank lines, order, unknown keys, odd spacing,
CRLF line endings, a missing final newline, the file's encoding (UTF-8, else the locale's code page, as
botocore reads it: `decode`), bytes that neither can decode.

Lines are read the way botocore reads the files (configparser's `RawConfigParser`: full-line comments
start with `#` or `;`, a header is `[name]` with whitespace around the brackets allowed and the name
taken exactly as written between them, keys are `key = value` or `key: value` with the key compared
case-insensitively, an indented line continues the value above it).

Rules for a section being set (`edit`, with values):
- A section that does not exist is appended at the end, after a blank line (none when the file is
  empty or already ends with a blank line), in the file's own line ending (CRLF if the file has it).
- A section that exists is edited in place. Its header line stays byte for byte. The owned keys are
  replaced: the caller's `owned` and every key in `values`. The new key lines go where the first owned
  key stood (right under the header when there was none), in the order of `values`. Everything else in
  the section is kept in its place: keys not owned, comment lines and blank lines. Comments and blank
  lines after the section's last key line belong, to the eye, to whatever follows, and are left
  exactly where they are.
- The same header more than once (botocore itself refuses such a file): the first is edited, the
  later ones with the same name are removed (header and keys; trailing comments stay), since they
  would otherwise shadow or contradict what was just written. Duplicates of other names are left alone.

A section being removed (`edit`, with None) goes with its duplicates the same way; when it was the
last thing in the file, the blank line before it (the one an appended section gets) goes too.

Every change holds sso-tray's lock on the file for the whole read-modify-write and goes through
`fileio.atomic_write` (temporary file, fsync, rename; the file keeps its mode, a new one is 0600, a
symlink stays a symlink and its target is replaced). A file that cannot be written raises `AwsError`
naming the file and the reason; the file is then untouched.
"""

from __future__ import annotations

import configparser
import os
import re
from collections import namedtuple
from collections.abc import Callable, Mapping
from pathlib import Path

from tray.core.errors import AwsError, UsageError

SECTCRE = configparser.RawConfigParser.SECTCRE
_OPTCRE = configparser.RawConfigParser.OPTCRE
_NONSPACECRE = re.compile(r"\S")
_COMMENT_PREFIXES = ("#", ";")
KEY_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
# Every character Python's str.splitlines breaks a line at: botocore reads only \r and \n as line ends, but
# another reader of the file (or a later edit here) may take any of them as one, and a value that breaks a
# line there can start a section of its own (`[profile default]` with a credential_process).
LINE_BREAKS = "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
UTF8 = "utf-8"


# --------------------------------------------------------------------------- parsing


# namedtuples, not dataclasses: shell completion reads the config through here, and importing
# dataclasses would be a good part of its time.
# text: the line with its own ending ("" ending only for a last line without one);
# kind: "blank", "comment", "header", "key", "cont" or "junk";
# key: the option name (lowercased) of a key line and of its continuation lines; header: a header's section name.
_Line = namedtuple("_Line", "text kind key header", defaults=(None, None))
# start: the header's index; end: after the section's last line (the next header, or len(lines));
# core_end: after its last key/continuation/junk line (start+1 if none).
_Section = namedtuple("_Section", "name start end core_end")


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
        mo = SECTCRE.match(value)
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


def _values(parsed: list[_Line], sec: _Section) -> dict[str, str]:
    result: dict[str, str] = {}
    for ln in parsed[sec.start + 1 : sec.core_end]:
        value = ln.text.strip()
        if ln.kind == "key":
            mo = _OPTCRE.match(value)
            result[ln.key] = (mo.group("value") or "").strip()
        elif ln.kind == "cont" and ln.key in result:
            result[ln.key] += "\n" + value
    return result


def _detect_eol(text: str) -> str:
    m = re.search(r"\r\n|\n|\r", text)
    return m.group(0) if m else "\n"


def check_values(values: Mapping[str, str], where: str) -> None:
    """Keys and values that read back as written: `UsageError` naming the key (never the value: it may be a secret)."""
    for key, value in values.items():
        if not KEY_RE.fullmatch(key) or key != key.lower():
            raise UsageError(f"{key!r} cannot be a key in {where}")
        if value != value.strip() or has_line_break(value) or not value:
            raise UsageError(f"the value of {key} cannot be written to {where} (empty, surrounding spaces or a line break)")


def has_line_break(text: str) -> bool:
    return any(c in LINE_BREAKS for c in text)


def _refuse_line_breaks(changes: Mapping[str, Mapping[str, str] | None]) -> None:
    """`UsageError` for a section name, key or value that would break a line: whoever calls `edit`, nothing
    it writes can add a line of its own. The message names the section and key, never the value (a secret)."""
    for name, values in changes.items():
        if has_line_break(name):
            raise UsageError(f"cannot write a section named {name!r}: a section name cannot hold a line break")
        for key, value in (values or {}).items():
            if has_line_break(key) or has_line_break(value):
                raise UsageError(f"cannot write {key!r} in [{name}]: a key or value cannot hold a line break")


def _same(name: str) -> str:
    return name


# --------------------------------------------------------------------------- reading and editing (pure)


def read_sections(text: str, key: Callable[[str], str] = _same) -> dict[str, dict[str, str]]:
    """Every section's keys (lowercased) as botocore reads them, by `key(header)`; the first of duplicates wins."""
    parsed = _classify(_split_lines(text))
    result: dict[str, dict[str, str]] = {}
    for sec in _sections(parsed):
        result.setdefault(key(sec.name), _values(parsed, sec))
    return result


def edit(
    text: str,
    changes: Mapping[str, Mapping[str, str] | None],
    owned: frozenset[str] = frozenset(),
    key: Callable[[str], str] = _same,
) -> str:
    """`text` with each section of `changes` set to its values (None: removed), in one pass (see module doc).

    Sections are matched by `key(header)` against the names in `changes`, so a caller can say that
    `[profile  a]` and `[profile a]` are the same; new sections are written with the name as given.
    `UsageError`, and nothing changed, for a name, key or value with a line break in it."""
    _refuse_line_breaks(changes)
    lines = _split_lines(text)
    parsed = _classify(lines)
    eol = _detect_eol(text)
    by_name: dict[str, list[_Section]] = {}
    for sec in _sections(parsed):
        by_name.setdefault(key(sec.name), []).append(sec)

    replace: dict[int, list[str]] = {}
    drop: set[int] = set()
    removed: list[_Section] = []
    appended: list[str] = []
    for name, values in changes.items():
        matches = by_name.get(name, [])
        if values is None:
            removed += matches
            for sec in matches:
                drop.update(range(sec.start, sec.core_end))
            continue
        new_keys = [f"{k} = {v}{eol}" for k, v in values.items()]
        if not matches:
            appended.append(f"[{name}]{eol}" + "".join(new_keys))
            continue
        first = matches[0]
        replace[first.start] = _edited_region(lines, parsed, first, new_keys, owned | set(values), eol)
        drop.update(range(first.start + 1, first.core_end))
        for dup in matches[1:]:
            drop.update(range(dup.start, dup.core_end))

    # A removed section that ends the file takes the blank line before it along (the one an append adds).
    tail = len(lines)
    while tail > 0 and tail - 1 in drop:
        tail -= 1
    for sec in sorted(removed, key=lambda s: s.start, reverse=True):
        if sec.start == tail and sec.start > 0 and parsed[sec.start - 1].kind == "blank":
            drop.add(sec.start - 1)
            tail = sec.start - 1
            while tail > 0 and tail - 1 in drop:
                tail -= 1

    out: list[str] = []
    for i, line in enumerate(lines):
        if i in replace:
            out += replace[i]
        elif i not in drop:
            out.append(line)
    for block in appended:
        if out:
            last = out[-1]
            if not _ending(last):
                out.append(eol)
            if last.strip():
                out.append(eol)
        out.append(block)
    return "".join(out)


def _edited_region(lines, parsed, sec: _Section, new_keys: list[str], owned: set[str], eol: str) -> list[str]:
    core: list[str] = []
    inserted = False
    for ln in parsed[sec.start + 1 : sec.core_end]:
        if ln.kind in ("key", "cont") and ln.key in owned:
            if not inserted:
                core += new_keys
                inserted = True
            continue
        core.append(ln.text)
    if not inserted:
        core = new_keys + core
    region = [ln if _ending(ln) else ln + eol for ln in [lines[sec.start], *core]]
    if sec.core_end == len(lines) and not _ending(lines[-1]):
        # The section was the end of a file without a final newline: keep it that way.
        region[-1] = region[-1][: len(region[-1]) - len(_ending(region[-1]))]
    return region


# --------------------------------------------------------------------------- files


def _reason(e: OSError) -> str:
    return e.strerror or type(e).__name__


def decode(data: bytes, errors: str = "surrogateescape") -> tuple[str, str]:
    """(text, encoding) of a file's bytes: UTF-8 where they are valid UTF-8, else the locale's encoding.

    botocore opens the AWS files with the locale's encoding (cp1252 on a Western Windows): a UTF-8
    `[sso-session 開発]` would read there as mojibake, and sso-tray itself writes UTF-8. A file that is
    not valid UTF-8 was written in the code page, and reads as botocore reads it. With the default
    `errors`, bytes neither can decode survive a round trip through `encode`."""
    try:
        return data.decode(UTF8), UTF8
    except UnicodeDecodeError:
        import locale

        encoding = locale.getpreferredencoding(False)  # what open() and so botocore use
        return data.decode(encoding, errors), encoding


def encode(text: str, encoding: str, path: Path) -> bytes:
    """`text` in the encoding the file was read in; `UsageError` when the file's code page cannot hold it."""
    try:
        return text.encode(encoding, errors="surrogateescape")
    except UnicodeEncodeError:
        raise UsageError(f"cannot write {path}: it is {encoding} text, and what would be written has a character "
                         f"{encoding} cannot hold") from None


def read_document(path: Path) -> tuple[str, str]:
    """(text, encoding) of the file (`decode`); ("", UTF-8) when it does not exist."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return "", UTF8
    except OSError as e:
        raise AwsError(f"cannot read {path}: {_reason(e)}") from None
    return decode(data)


def read_text(path: Path) -> str:
    """The file's text ("" when it does not exist), decoded as `decode` does."""
    return read_document(path)[0]


def rewrite(path: Path, change: Callable[[str], str | None], *, private: bool = False) -> bool:
    """Under the lock: read, apply `change(text) -> new text | None`, write atomically if it changed, in the
    encoding the file was read in (`decode`); `private`: for this user alone (see `fileio.atomic_write`).

    An exception raised by `change` (e.g. a `UsageError` for a clash it found) leaves the file untouched."""
    from tray.core.files import fileio  # only a write needs it

    path = Path(path)
    try:
        with fileio.file_lock(path):
            text, encoding = read_document(path)
            new = change(text)
            if new is None or new == text:
                return False
            target = fileio.resolve_target(path)
            if target.exists() and not os.access(target, os.W_OK):
                raise AwsError(f"cannot write {path}: the file is read-only")
            fileio.atomic_write(path, encode(new, encoding, path), private=private)
            return True
    except OSError as e:
        raise AwsError(f"cannot write {path}: {_reason(e)}") from None
