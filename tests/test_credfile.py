"""The shared credentials file: only sso-tray's section changes, every write is atomic, locked and readable by AWS tools (SPEC §6)."""

from __future__ import annotations

import configparser
import multiprocessing
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import datetime, timezone
from pathlib import Path

import filelock  # noqa: F401  (loaded before forking unprivileged children)
import platformdirs  # noqa: F401
import pytest
from botocore.configloader import raw_config_parse

from conftest import ROOT, aws_cli
from tray.core.files import credfile, paths
from tray.core.credentials import RoleCredentials
from tray.core.errors import AwsError, UsageError

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzSECRETzKEY"
TOKEN = "IQoJb3JpZ2luX2VjEHUaCXVzLWVhc3QtMSJHMEUCIQD+TOKEN/secret=="


def values(n: int = 0, region: str | None = "eu-west-1") -> dict[str, str]:
    creds = RoleCredentials(
        access_key_id=f"ASIAEXAMPLE{n:09d}",
        secret_access_key=f"{SECRET}{n}",
        session_token=f"{TOKEN}{n}",
        expiration=datetime(2030, 1, 1, 12, 0, n % 60, tzinfo=timezone.utc),
    )
    return credfile.credential_values(creds, region)


# A hand-made file: comments of both kinds, blank lines, odd spacing, unknown keys, a nested value,
# a header with spaces inside the brackets, five foreign profiles around the one sso-tray writes.
PREFIX = (
    "# AWS credentials, edited by hand ✓\n"
    "; a semicolon comment\n"
    "\n"
    "[default]\n"
    "aws_access_key_id=AKIADEFAULT00000000\n"
    "aws_secret_access_key   =   default/secret+key   \n"
    "region: us-east-1\n"
    "# a comment inside a section\n"
    "output = json\n"
    "\n"
    "\n"
    "[work]   \n"
    "aws_access_key_id = AKIAWORK0000000000\n"
    "aws_secret_access_key = worksecret\n"
    "s3 =\n"
    "  max_concurrent_requests = 20\n"
    "  signature_version = s3v4\n"
    "unknown_key = 42\n"
    "\n"
)
SECTION = (
    "[sso-dev]\n"
    "# my own note about sso-dev\n"
    "aws_access_key_id = OLDKEY\n"
    "aws_secret_access_key = OLDSECRET\n"
    "aws_security_token = OLDLEGACYTOKEN\n"
    "output = text\n"
    "aws_session_token = OLDTOKEN\n"
)
SUFFIX = (
    "\n"
    "# this comment is about [ spaced name ]\n"
    "[ spaced name ]\n"
    "aws_access_key_id = AKIASPACED00000000\n"
    "[prod]\n"
    "aws_access_key_id=AKIAPROD0000000000\n"
    "aws_secret_access_key=prodsecret\n"
    "aws_session_token=prodtoken\n"
    "\t\n"
    "[last]\n"
    "key = value\n"
)
FOREIGN = ["default", "work", " spaced name ", "prod", "last"]


def expected_section(v: dict[str, str], eol: str = "\n") -> str:
    """What SECTION must become: header and own comment kept, owned keys replaced in place, `output` kept."""
    keys = "".join(f"{k} = {val}{eol}" for k, val in v.items())
    return f"[sso-dev]{eol}# my own note about sso-dev{eol}" + keys + f"output = text{eol}"


VARIANTS = {
    "lf": lambda s: s.encode(),
    "crlf": lambda s: s.replace("\n", "\r\n").encode(),
    "no-final-newline": lambda s: s.rstrip("\n").encode(),
    "not-utf8": lambda s: s.replace("# a comment inside", "# caf\xe9 latin-1").encode("latin-1", errors="replace"),
}


def _botocore_sections(path: Path) -> dict:
    return raw_config_parse(str(path))


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_foreign_bytes_untouched_after_100_writes(tmp_path, variant):
    enc = VARIANTS[variant]
    eol = "\r\n" if variant == "crlf" else "\n"
    path = tmp_path / "credentials"
    before = enc(PREFIX + SECTION + SUFFIX)
    path.write_bytes(before)
    prefix, suffix = enc(PREFIX + "\x00")[:-1], enc(SUFFIX)
    foreign_before = None if variant == "not-utf8" else _botocore_sections(path)

    for n in range(100):
        v = values(n, region=f"eu-west-{n % 4}")
        credfile.write_profile(path, "sso-dev", v)
        after = path.read_bytes()
        assert after.startswith(prefix) and after.endswith(suffix), n
        middle = after[len(prefix) : len(after) - len(suffix)]
        assert middle == expected_section(v, eol).encode(), n

    assert credfile.read_profile(path, "sso-dev") == {**v, "output": "text"}
    if foreign_before is not None:
        parsed = _botocore_sections(path)
        for name in FOREIGN:
            assert parsed[name] == foreign_before[name]
        assert parsed["sso-dev"] == {**v, "output": "text"}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_new_section_is_appended_after_a_blank_line(tmp_path, variant):
    enc = VARIANTS[variant]
    eol = "\r\n" if variant == "crlf" else "\n"
    path = tmp_path / "credentials"
    before = enc(PREFIX + SECTION + SUFFIX)
    path.write_bytes(before)
    for n in range(20):
        v = values(n)
        credfile.write_profile(path, "sso-new", v)
        glue = eol if variant == "no-final-newline" else ""
        section = f"{eol}[sso-new]{eol}" + "".join(f"{k} = {val}{eol}" for k, val in v.items())
        assert path.read_bytes() == before + glue.encode() + section.encode()
    assert credfile.remove_profile(path, "sso-new") is True
    assert path.read_bytes() == before + (eol.encode() if variant == "no-final-newline" else b"")
    assert credfile.remove_profile(path, "sso-new") is False


def test_new_file_and_empty_file(tmp_path):
    path = tmp_path / "aws" / "credentials"
    v = values(1)
    credfile.write_profile(path, "p", v)
    assert path.read_text(encoding="utf-8") == "[p]\n" + "".join(f"{k} = {val}\n" for k, val in v.items())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    credfile.write_profile(empty, "p", v)
    assert empty.read_text(encoding="utf-8") == path.read_text(encoding="utf-8")
    assert credfile.read_profile(tmp_path / "missing", "p") is None
    assert credfile.read_profile(path, "other") is None


def test_removing_keeps_everything_else(tmp_path):
    path = tmp_path / "credentials"
    path.write_text(PREFIX + SECTION + SUFFIX, encoding="utf-8")
    assert credfile.remove_profile(path, "sso-dev") is True
    assert path.read_text(encoding="utf-8") == PREFIX + SUFFIX


def test_region_and_legacy_token_rules(tmp_path):
    """`region` is replaced only when sso-tray knows one; a stale aws_security_token always goes (botocore prefers it)."""
    path = tmp_path / "credentials"
    path.write_text("[p]\nregion = ap-south-1\naws_security_token = STALE\nAWS_Access_Key_ID : OLD\n  continued\nmine = 1\n", encoding="utf-8")
    credfile.write_profile(path, "p", values(1, region=None))
    got = credfile.read_profile(path, "p")
    assert got == {"region": "ap-south-1", **values(1, region=None), "mine": "1"}
    assert "STALE" not in path.read_text(encoding="utf-8") and "continued" not in path.read_text(encoding="utf-8")
    credfile.write_profile(path, "p", values(2, region="sa-east-1"))
    assert credfile.read_profile(path, "p")["region"] == "sa-east-1"
    assert path.read_text(encoding="utf-8").count("region") == 1


def test_duplicate_headers(tmp_path):
    """The first [p] is edited and later [p]s (which make botocore refuse the file) are removed; other duplicates stay."""
    path = tmp_path / "credentials"
    original = (
        "[p]\naws_access_key_id = A1\n\n# about q\n[q]\nx = 1\n[p]\naws_access_key_id = A2\nextra = 1\n"
        "# about r\n[r]\ny = 2\n"
    )
    path.write_text(original, encoding="utf-8")
    with pytest.raises(Exception):
        _botocore_sections(path)
    v = values(3)
    credfile.write_profile(path, "p", v)
    keys = "".join(f"{k} = {val}\n" for k, val in v.items())
    assert path.read_text(encoding="utf-8") == f"[p]\n{keys}\n# about q\n[q]\nx = 1\n# about r\n[r]\ny = 2\n"
    assert _botocore_sections(path)["p"] == v

    other = tmp_path / "other"
    dup_q = "[q]\nx = 1\n[q]\nx = 2\n"
    other.write_text(dup_q, encoding="utf-8")
    credfile.write_profile(other, "p", v)
    assert other.read_text(encoding="utf-8").startswith(dup_q + "\n[p]\n")


def test_header_matching_follows_configparser(tmp_path):
    path = tmp_path / "credentials"
    # Whitespace around the brackets is allowed; inside them it is part of the name (as botocore reads it).
    path.write_text("[a]\nk = 1\n   [p]   \nold = 1\n[ p ]\nk = 2\n", encoding="utf-8")
    credfile.write_profile(path, "p", {"aws_access_key_id": "NEW"})
    # An indented line after a key is a continuation of that key, not a header (configparser's rule).
    text = path.read_text(encoding="utf-8")
    assert text.startswith("[a]\nk = 1\n   [p]   \nold = 1\n[ p ]\nk = 2\n\n[p]\naws_access_key_id = NEW\n")
    assert _botocore_sections(path)["p"] == {"aws_access_key_id": "NEW"}
    assert _botocore_sections(path)[" p "] == {"k": "2"}

    # Right after a header there is no value to continue: an indented header is a header.
    path.write_text("[a]\nk = 1\n[x]\n  [p]  \nold = 1\n", encoding="utf-8")
    credfile.write_profile(path, "p", {"aws_access_key_id": "NEW"})
    assert path.read_text(encoding="utf-8") == "[a]\nk = 1\n[x]\n  [p]  \naws_access_key_id = NEW\nold = 1\n"
    assert _botocore_sections(path)["p"] == {"aws_access_key_id": "NEW", "old": "1"}

    # A blank line does not end a value either.
    path.write_text("[a]\nk = 1\n\n  [p]  \nold = 1\n", encoding="utf-8")
    credfile.write_profile(path, "p", {"aws_access_key_id": "NEW"})
    assert path.read_text(encoding="utf-8") == "[a]\nk = 1\n\n  [p]  \nold = 1\n\n[p]\naws_access_key_id = NEW\n"
    assert _botocore_sections(path)["p"] == {"aws_access_key_id": "NEW"}


def test_bad_names_and_values_are_refused(tmp_path):
    path = tmp_path / "credentials"
    for name in ["", " p", "p ", "a\nb", "DEFAULT"]:
        with pytest.raises(UsageError):
            credfile.write_profile(path, name, values())
    for bad in [{"aws_session_token": "two\nlines"}, {"aws_session_token": " padded"}, {"Bad Key": "x"}]:
        with pytest.raises(UsageError) as err:
            credfile.write_profile(path, "p", bad)
        assert "two" not in str(err.value) and "padded" not in str(err.value)
    assert not path.exists()


# --------------------------------------------------------------------------- concurrency and crashes

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from tray.core.files import credfile
    path, who, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    for j in range(count):
        credfile.write_profile(path, f"{who}-{j}", {"aws_access_key_id": f"K{who}x{j}", "aws_secret_access_key": "s" * 40})
    """
)


def _child_env() -> dict:
    env = os.environ.copy()
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_concurrent_writers_lose_nothing(tmp_path):
    path = tmp_path / "credentials"
    path.write_text(PREFIX, encoding="utf-8")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), f"w{i}", "25"],
            env=_child_env(),
            stdout=subprocess.DEVNULL,
            stderr=open(tmp_path / f"err{i}", "wb"),
        )
        for i in range(8)
    ]
    for i, p in enumerate(procs):
        assert p.wait(timeout=120) == 0, (tmp_path / f"err{i}").read_text(encoding="utf-8")
    parsed = _botocore_sections(path)
    for i in range(8):
        for j in range(25):
            assert parsed[f"w{i}-{j}"]["aws_access_key_id"] == f"Kw{i}x{j}"
    assert len(parsed) == 2 + 200
    assert path.read_text(encoding="utf-8").startswith(PREFIX)


LOOPER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from tray.core.files import credfile
    path, n = Path(sys.argv[1]), int(sys.argv[2])
    print("ready", flush=True)
    while True:
        n += 1
        g = f"gen{n:08d}"
        credfile.write_profile(path, "victim", {
            "aws_access_key_id": g, "aws_secret_access_key": g + "s" * 40,
            "aws_session_token": g + "t" * 900, "aws_credential_expiration": g,
        })
        print(n, flush=True)
    """
)


def test_sigkill_leaves_old_or_new_file(tmp_path):
    """A writer killed at random moments leaves a whole file every time: never a torn or mixed one.
    Kill times are chosen after the writer says it is writing, inside the length of one of its own writes,
    so they land mid-write on a fast machine and on a slow one alike."""
    path = tmp_path / "credentials"
    big = "".join(f"[bulk{i}]\naws_access_key_id = AKIA{i:016d}\naws_secret_access_key = {'x' * 40}\n\n" for i in range(6000))
    path.write_text(big, encoding="utf-8")
    generations = set()
    rng = random.Random(1234)
    for round_ in range(20):
        first = round_ * 1000
        proc = subprocess.Popen(
            [sys.executable, "-c", LOOPER, str(path), str(first)],
            env=_child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert proc.stdout.readline() == "ready\n", "the writer died before writing"
            started = time.monotonic()
            whole = rng.randint(1, 2)
            for _ in range(whole):  # whole writes first, so that every round leaves a generation of its own
                assert proc.stdout.readline(), "the writer died while writing"
            one_write = (time.monotonic() - started) / whole
            time.sleep(rng.uniform(0, one_write))  # the kill: at a random point of the next write
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        last_done = max(int(line) for line in [str(first + whole), *proc.stdout.read().split()])
        proc.stdout.close()
        data = path.read_bytes()
        assert data.startswith(big.encode()), "the foreign part changed"
        tail = data[len(big) :].decode()
        assert tail.startswith("[victim]\n")  # `big` ends with a blank line: none added
        section = configparser.RawConfigParser()
        section.read_string(tail)
        gens = {v[:11] for v in section["victim"].values()}
        assert len(gens) == 1, f"mixed section: {gens}"
        gen = next(iter(gens))
        assert section["victim"]["aws_session_token"] == gen + "t" * 900
        assert tail == "[victim]\n" + "".join(f"{k} = {v}\n" for k, v in section["victim"].items())
        # the old file (the last write it reported) or the new one (killed after its rename, before its report)
        assert int(gen[3:]) in (last_done, last_done + 1), (gen, last_done)
        generations.add(gen)
    assert len(generations) == 20
    assert _botocore_sections(path)["bulk5999"]["aws_access_key_id"] == f"AKIA{5999:016d}"


# --------------------------------------------------------------------------- modes, links, locations


def test_a_file_others_can_read_is_narrowed_to_its_owner(tmp_path):
    """It holds secrets: a world- or group-readable file (0644, 0640) becomes 0600 with every write or removal,
    through a symlink too; the owner's own bits stay (issue 17)."""
    path = tmp_path / "credentials"
    path.write_text("[a]\nk = 1\n", encoding="utf-8")
    for n, (wide, narrowed) in enumerate(((0o644, 0o600), (0o640, 0o600), (0o666, 0o600), (0o600, 0o600))):
        os.chmod(path, wide)
        credfile.write_profile(path, "p", values(n))
        assert stat.S_IMODE(path.stat().st_mode) == narrowed, oct(wide)
    os.chmod(path, 0o644)
    assert credfile.remove_profile(path, "p")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_text(encoding="utf-8") == "[a]\nk = 1\n"
    link = tmp_path / "link"
    link.symlink_to(path)
    os.chmod(path, 0o644)
    credfile.write_profile(link, "p", values())
    assert link.is_symlink() and stat.S_IMODE(path.stat().st_mode) == 0o600
    fresh = tmp_path / "fresh"
    old = os.umask(0)
    try:
        credfile.write_profile(fresh, "p", values())
    finally:
        os.umask(old)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600


def test_symlink_stays_a_symlink(tmp_path):
    real = tmp_path / "dotfiles" / "aws-credentials"
    real.parent.mkdir()
    real.write_text("[a]\nk = 1\n", encoding="utf-8")
    os.chmod(real, 0o600)
    link = tmp_path / "aws" / "credentials"
    link.parent.mkdir()
    link.symlink_to(real)
    credfile.write_profile(link, "p", values(5))
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert credfile.read_profile(real, "p") == values(5)
    assert real.read_text(encoding="utf-8").startswith("[a]\nk = 1\n\n[p]\n")
    assert [p.name for p in real.parent.iterdir()] == ["aws-credentials"]


def test_aws_shared_credentials_file_is_honoured(tmp_path, monkeypatch, home):
    elsewhere = tmp_path / "elsewhere" / "creds"
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(elsewhere))
    assert paths.credentials_file() == elsewhere
    credfile.write_profile(paths.credentials_file(), "p", values())
    assert elsewhere.exists()
    assert not (home / ".aws" / "credentials").exists()
    monkeypatch.delenv("AWS_SHARED_CREDENTIALS_FILE")
    assert paths.credentials_file() == home / ".aws" / "credentials"


def test_botocore_reads_the_written_profile(tmp_path, monkeypatch):
    import botocore.session

    creds_file = tmp_path / "credentials"
    creds_file.write_text(PREFIX + SECTION + SUFFIX, encoding="utf-8")
    config = tmp_path / "config"
    config.write_text("", encoding="utf-8")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds_file))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    for name, v in [("sso-dev", values(7, "ca-central-1")), ("brand-new", values(8, None))]:
        credfile.write_profile(creds_file, name, v)
        session = botocore.session.Session(profile=name)
        got = session.get_credentials().get_frozen_credentials()
        assert (got.access_key, got.secret_key, got.token) == (
            v["aws_access_key_id"],
            v["aws_secret_access_key"],
            v["aws_session_token"],
        )
        assert session.get_config_variable("region") == v.get("region")
    other = botocore.session.Session(profile="work").get_credentials()
    assert other.access_key == "AKIAWORK0000000000"


def test_aws_cli_reads_the_profile(tmp_path, monkeypatch, moto_sts):
    aws = aws_cli()
    creds_file = tmp_path / "credentials"
    creds_file.write_text(PREFIX + SECTION + SUFFIX, encoding="utf-8")
    config = tmp_path / "config"
    config.write_text("", encoding="utf-8")
    v = values(9, "us-west-2")
    credfile.write_profile(creds_file, "sso-dev", v)
    env = os.environ.copy()
    env.update(
        AWS_SHARED_CREDENTIALS_FILE=str(creds_file),
        AWS_CONFIG_FILE=str(config),
        AWS_ENDPOINT_URL_STS=moto_sts,
    )
    got = subprocess.run(
        [str(aws), "configure", "get", "aws_access_key_id", "--profile", "sso-dev"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert got.returncode == 0, got.stderr
    assert got.stdout.strip() == v["aws_access_key_id"]
    ident = subprocess.run(
        [str(aws), "sts", "get-caller-identity", "--profile", "sso-dev", "--output", "json"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert ident.returncode == 0, ident.stderr
    assert '"Account"' in ident.stdout and '"Arn"' in ident.stdout


# --------------------------------------------------------------------------- failures


def _assert_clean_error(err: AwsError, path: Path, v: dict[str, str]) -> None:
    text = str(err)
    assert str(path) in text and "\n" not in text
    for secret in (v["aws_secret_access_key"], v["aws_session_token"]):
        assert secret not in text
    assert err.exit_code == 4


def test_parent_is_a_file(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("I am a file\n", encoding="utf-8")
    path = blocker / "credentials"
    v = values()
    with pytest.raises(AwsError) as err:
        credfile.write_profile(path, "p", v)
    _assert_clean_error(err.value, path, v)
    assert "Not a directory" in str(err.value)
    assert blocker.read_text(encoding="utf-8") == "I am a file\n"


def test_path_is_a_folder(tmp_path):
    path = tmp_path / "credentials"
    path.mkdir()
    (path / "inside").write_text("x", encoding="utf-8")
    v = values()
    with pytest.raises(AwsError) as err:
        credfile.write_profile(path, "p", v)
    _assert_clean_error(err.value, path, v)
    assert "Is a directory" in str(err.value)
    assert [p.name for p in path.iterdir()] == ["inside"]


FSIZE_WRITER = textwrap.dedent(
    """
    import resource, sys
    from pathlib import Path
    from tray.core.files import credfile
    from tray.core.errors import AwsError
    resource.setrlimit(resource.RLIMIT_FSIZE, (16384, 16384))   # Python ignores SIGXFSZ: writes fail with EFBIG
    try:
        credfile.write_profile(Path(sys.argv[1]), "p", {"aws_access_key_id": "AKIA", "aws_session_token": "SECRET" + "t" * 40})
    except AwsError as e:
        Path(sys.argv[2]).write_text(str(e))
        sys.exit(e.exit_code)
    """
)


def test_write_failing_midway_leaves_the_file_whole(tmp_path):
    """The disk refuses the write (a file-size limit, which binds root too): error, old file intact, no temp file left."""
    folder = tmp_path / "aws"
    folder.mkdir()
    path = folder / "credentials"
    original = "".join(f"[bulk{i}]\naws_access_key_id = AKIA{i:016d}\n" for i in range(1000)).encode()
    assert len(original) > 16384
    path.write_bytes(original)
    os.chmod(path, 0o600)
    out = folder / "message"
    proc = subprocess.run([sys.executable, "-c", FSIZE_WRITER, str(path), str(out)], env=_child_env(), timeout=60)
    assert proc.returncode == 4
    message = out.read_text(encoding="utf-8")
    assert str(path) in message and "too large" in message.lower() and "SECRET" not in message
    assert path.read_bytes() == original
    assert sorted(p.name for p in folder.iterdir()) == ["credentials", "message"]


def _unprivileged(fn, *args):
    """Run fn(*args) in a forked child as `nobody` when we are root (root ignores permission bits); return what it returned."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()

    def run():
        try:
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
            child.send(fn(*args))
        except BaseException as e:  # report, never raise in the child
            child.send(("exception", type(e).__name__, str(e)))

    p = ctx.Process(target=run)
    p.start()
    result = parent.recv() if parent.poll(60) else ("timeout",)
    p.join(10)
    return result


def _try_write(path: str, private: str, v: dict[str, str]):
    # sso-tray's own folders (its lock files) must be the unprivileged user's.
    for var in ("HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME"):
        os.environ[var] = private
    try:
        credfile.write_profile(Path(path), "p", v)
    except AwsError as e:
        return ("AwsError", str(e), e.exit_code)
    return ("ok",)


@pytest.fixture
def shared_dir():
    """A folder outside root's private pytest tree that `nobody` can reach."""
    base = Path(tempfile.mkdtemp(prefix="sso-tray-perm-"))
    os.chmod(base, 0o755)
    runtime = base / "run"
    runtime.mkdir(mode=0o700)
    if os.geteuid() == 0:
        os.chown(runtime, 65534, 65534)
    yield base
    for p in base.rglob("*"):
        with_mode = 0o700 if p.is_dir() and not p.is_symlink() else None
        if with_mode:
            os.chmod(p, with_mode)
    os.chmod(base, 0o700)
    shutil.rmtree(base, ignore_errors=True)


def _owned_by_runner(p: Path) -> None:
    if os.geteuid() == 0:
        os.chown(p, 65534, 65534)


def test_unwritable_folder(shared_dir):
    folder = shared_dir / "aws"
    folder.mkdir()
    path = folder / "credentials"
    original = b"[a]\naws_access_key_id = AKIAKEEP\n"
    path.write_bytes(original)
    _owned_by_runner(folder)
    _owned_by_runner(path)
    os.chmod(path, 0o600)
    os.chmod(folder, 0o500)
    v = values()
    result = _unprivileged(_try_write, str(path), str(shared_dir / "run"), v)
    assert result[0] == "AwsError", result
    assert str(path) in result[1] and "Permission denied" in result[1] and result[2] == 4
    assert v["aws_secret_access_key"] not in result[1] and v["aws_session_token"] not in result[1]
    assert path.read_bytes() == original
    assert [p.name for p in folder.iterdir()] == ["credentials"]


def test_read_only_file(shared_dir):
    folder = shared_dir / "aws"
    folder.mkdir(mode=0o700)
    path = folder / "credentials"
    original = b"[a]\naws_access_key_id = AKIAKEEP\n"
    path.write_bytes(original)
    _owned_by_runner(folder)
    _owned_by_runner(path)
    os.chmod(path, 0o400)
    v = values()
    result = _unprivileged(_try_write, str(path), str(shared_dir / "run"), v)
    assert result[0] == "AwsError", result
    assert str(path) in result[1] and "read-only" in result[1]
    assert v["aws_secret_access_key"] not in result[1]
    assert path.read_bytes() == original
    assert stat.S_IMODE(path.stat().st_mode) == 0o400
