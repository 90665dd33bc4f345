"""The AWS config as sso-tray sees it: SSO sessions and the profiles that use them.

Parsed as botocore parses it (`read_config`), so sso-tray agrees with the AWS CLI on every file. Both
forms work: `[sso-session NAME]` sections referenced by `sso_session = NAME`, and legacy profiles
carrying `sso_start_url`/`sso_region` themselves (their session is named by the start URL, as botocore
keys it).
"""

from __future__ import annotations

import configparser
import hashlib
from collections import namedtuple
from pathlib import Path

from tray.core.files import inifile, paths
from tray.core.errors import ConfigError, UsageError

DEFAULT_SCOPES = ("sso:account:access",)


# namedtuples and a plain class, not dataclasses: a cached `export` loads this module (see tray/cli.py)
class SsoSession(namedtuple(
    "SsoSession", "name start_url region scopes legacy registration_scopes region_in_config issuer_url problem",
    defaults=(DEFAULT_SCOPES, False, None, True, None, None),
)):
    """`name` is the sso-session name, or for a legacy profile its start URL; `scopes` a tuple of str.
    `registration_scopes` is `sso_registration_scopes` as the AWS CLI v2 parses it, None when the key is
    absent: the CLI keys the client registration file by exactly that (tray.core.identity.tokens).

    `region` may be None when the config has no `sso_region` (`region_in_config` False) and the start URL's host
    does not name it: a sign-in finds it (tray.core.identity.startregion) and writes it back. `issuer_url` is where
    a vanity start URL lands, given to the OIDC API as the issuer. `problem` says why the section cannot be used:
    only this session (and its profiles) fails, with that line; every other one works."""

    __slots__ = ()

    @property
    def issuer(self) -> str:
        return self.issuer_url or self.start_url

    @property
    def cache_key(self) -> str:
        """sha1 of the session name (or the start URL for legacy profiles), as botocore names the token file."""
        return hashlib.sha1(self.name.encode("utf-8")).hexdigest()

    @property
    def token_cache_path(self) -> Path:
        return paths.sso_cache_dir() / f"{self.cache_key}.json"

    @property
    def login_hint(self) -> str:
        """The command that signs this session in."""
        if self.legacy:
            return "sso-tray login --profile PROFILE (a profile with this start URL)"
        return f"sso-tray login --sso-session {self.name}"


class Profile(namedtuple("Profile", "name session account_id role_name region", defaults=(None, None, None))):
    """An SSO profile: its SsoSession, and the account, role and region it names (each may be None)."""

    __slots__ = ()

    @property
    def has_role(self) -> bool:
        return bool(self.account_id and self.role_name)


class LoginProfile(namedtuple("LoginProfile", "name login_session region", defaults=(None,))):
    """A profile of `aws login` (AWS CLI v2 2.32+): `login_session` is the ARN of who signed in, which names its
    cache file (tray.core.identity.login)."""

    __slots__ = ()

    @property
    def cache_path(self) -> Path:
        """`<login cache>/<sha256(login_session)>.json`, as botocore's `generate_login_cache_key` names it."""
        return paths.login_cache_dir() / f"{hashlib.sha256(self.login_session.encode('utf-8')).hexdigest()}.json"

    @property
    def login_hint(self) -> str:
        return f"sso-tray login --profile {self.name}"

    @property
    def problem(self) -> None:
        """None: the face of an SsoSession where status shows both kinds (a login profile's section is always usable)."""
        return None


class AwsConfig:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.sessions: dict[str, SsoSession] = {}
        self.profiles: dict[str, Profile] = {}  # SSO profiles only
        self.broken: dict[str, str] = {}  # SSO profiles that cannot be used: name -> the one-line reason
        self.logins: dict[str, LoginProfile] = {}  # `aws login` profiles (login_session), by profile name

    @classmethod
    def load(cls, path: Path | None = None) -> "AwsConfig":
        path = Path(path) if path else paths.aws_config_file()
        if not path.is_file():
            raise ConfigError(
                f"{path}: no AWS config file; add an [sso-session NAME] section with sso_start_url and sso_region"
                " (or run `sso-tray configure --start-url URL --region REGION`)"
            )
        raw = read_config(path)
        config = cls(path=path)
        for name, values in raw.get("sso_sessions", {}).items():
            config.sessions[name] = _session_from_section(path, name, values)
        for name, values in raw.get("profiles", {}).items():
            try:
                profile = config._profile_from_section(name, values)
            except ConfigError as e:  # this profile's problem only: every other one still works
                config.broken[name] = str(e)
                continue
            if profile is not None:
                config.profiles[name] = profile
        return config

    def _profile_from_section(self, name: str, values: dict) -> Profile | None:
        section = "default" if name == "default" else f"profile {name}"
        where = f"{self.path}: [{section}]"
        if "sso_session" in values:
            session_name = values["sso_session"]
            session = self.sessions.get(session_name)
            if session is None:
                raise ConfigError(f"{where}: sso_session = {session_name} names no [sso-session {session_name}] section")
        elif "sso_start_url" in values:
            start_url = values["sso_start_url"]
            session = self.sessions.get(start_url) or _session_from_section(self.path, start_url, values, where, legacy=True)
            self.sessions.setdefault(start_url, session)
        elif values.get("login_session"):  # after SSO, as botocore's chain takes them
            self.logins[name] = LoginProfile(name, values["login_session"], values.get("region"))
            return None
        else:
            return None  # not an SSO profile: none of sso-tray's business
        account_id, role_name = values.get("sso_account_id"), values.get("sso_role_name")
        if bool(account_id) != bool(role_name):
            missing = "sso_role_name" if account_id else "sso_account_id"
            raise ConfigError(f"{where}: missing key {missing} (sso_account_id and sso_role_name go together)")
        if account_id and not (account_id.isdigit() and len(account_id) == 12):
            raise ConfigError(f"{where}: sso_account_id = {account_id} is not a 12-digit account id")
        return Profile(name=name, session=session, account_id=account_id, role_name=role_name, region=values.get("region"))

    def session(self, name: str | None = None) -> SsoSession:
        """The named session, or the only one there is."""
        if name is not None:
            if name in self.sessions:
                return self.sessions[name]
            from tray.core.naming import did_you_mean

            known = ", ".join(sorted(self.sessions)) or "none"
            raise UsageError(f"{self.path}: no sso-session named {name!r}{did_you_mean(name, self.sessions)} (configured: {known})")
        if len(self.sessions) == 1:
            return next(iter(self.sessions.values()))
        if not self.sessions:
            raise ConfigError(f"{self.path}: no [sso-session NAME] section and no profile with sso_start_url")
        known = ", ".join(sorted(self.sessions))
        raise UsageError(f"several SSO sessions are configured ({known}): choose one with --sso-session NAME")

    def profile(self, name: str) -> Profile:
        if name in self.profiles:
            return self.profiles[name]
        if name in self.broken:
            raise ConfigError(self.broken[name])
        raise UsageError(f"{self.path}: no SSO profile named {name!r}")


def _session_from_section(path: Path, name: str, values: dict, where: str | None = None, legacy: bool = False) -> SsoSession:
    """The session a section describes; one it cannot be carries its `problem` instead of failing the config."""
    where = where or f"{path}: [sso-session {name}]"
    start_url = values.get("sso_start_url") or ""
    region = values.get("sso_region") or None
    if region is None:  # only then: a cached `export` of a session with its sso_region loads no more than it needs
        from tray.core.identity import startregion
    scopes = tuple(s.strip() for s in values.get("sso_registration_scopes", "").split(",") if s.strip())
    if legacy:  # botocore reads no registration scopes for a legacy profile
        scopes, registration_scopes = (), None
    else:
        registration_scopes = scopes if "sso_registration_scopes" in values else None
    session = SsoSession(name=name, start_url=start_url, region=region or startregion.region_of(start_url), scopes=scopes or DEFAULT_SCOPES,
                         legacy=legacy, registration_scopes=registration_scopes, region_in_config=region is not None)
    problem = None
    if not start_url:
        problem = "missing key sso_start_url"
    elif not start_url.startswith(("https://", "http://")):
        problem = f"sso_start_url = {start_url} is not an http(s) URL"
    elif region is None:
        problem = startregion.problem_without_region(start_url)
    return session._replace(problem=f"{where}: {problem}") if problem else session


def read_config(path: Path) -> dict:
    """The file as `botocore.configloader.load_config` returns it ({"profiles": …, "sso_sessions": …,
    "services": …, and every other section by its name}), with the same parser: configparser's
    `RawConfigParser`, nested `key =` blocks parsed as botocore's `raw_config_parse` does, sections
    named as its `build_profile_map` names them (tests/test_config_corpus.py holds the two side by
    side on a corpus of odd files). Importing botocore for it would be half of a cached `export`.

    Unlike botocore, which reads the locale's encoding only, the text is UTF-8 where it is valid UTF-8
    (`inifile.decode`). `ConfigError` in one line, naming no value (a line may hold a secret)."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the AWS config ({e.strerror or type(e).__name__})") from None
    try:
        text, _ = inifile.decode(data, errors="strict")
    except UnicodeDecodeError as e:
        import codecs
        import locale

        encoding = locale.getpreferredencoding(False)
        what = "not UTF-8 text" if codecs.lookup(encoding).name == "utf-8" else f"neither UTF-8 nor {encoding} text"
        raise ConfigError(f"{path}: the file is {what} (byte {e.start + 1}); save it as UTF-8") from None
    parser = configparser.RawConfigParser()
    try:
        # as open() hands botocore the text: \r\n and \r become \n
        parser.read_string(text.replace("\r\n", "\n").replace("\r", "\n"), str(path))
    except configparser.Error as e:
        raise ConfigError(f"{path}: not valid INI, {_parse_problem(e)}") from None
    sections = {}
    for name in parser.sections():
        values = sections[name] = {}
        for option in parser.options(name):
            value = parser.get(name, option)
            if value.startswith("\n"):
                value = _nested(value)
                if value is None:
                    raise ConfigError(f"{path}: [{name}] {option}: an indented line under it has no `=`")
            values[option] = value
    return _profile_map(sections)


def _parse_problem(e: configparser.Error) -> str:
    """What configparser found, by line number: its own message may quote a line, and a line may be a secret."""
    if isinstance(e, configparser.DuplicateSectionError):
        return f"line {e.lineno}: the section [{e.section}] appears twice"
    if isinstance(e, configparser.DuplicateOptionError):
        return f"line {e.lineno}: the key {e.option} appears twice in [{e.section}]"
    if isinstance(e, configparser.MissingSectionHeaderError):
        return f"line {e.lineno}: a key before the first [section]"
    if isinstance(e, configparser.ParsingError):
        lines = ", ".join(str(lineno) for lineno, _ in e.errors)
        return f"line {lines}: neither a [section], a `key = value` nor a comment"
    return type(e).__name__


def _nested(value: str) -> dict | None:
    """A `key =` followed by indented `sub = value` lines, as botocore's `_parse_nested` reads it (None
    where botocore raises ValueError)."""
    parsed = {}
    for line in value.splitlines():
        line = line.strip()
        if line:
            key, sep, sub = line.partition("=")
            if not sep:
                return None
            parsed[key.strip()] = sub.strip()
    return parsed


def _profile_map(sections: dict) -> dict:
    """botocore's `build_profile_map`: `[profile NAME]` (any header starting with "profile" that splits into
    two shell words), `[sso-session NAME]`, `[services NAME]`, `[default]`; a later section of the same
    name replaces an earlier one; every other section under its own name."""
    import shlex

    by_kind: dict[str, dict] = {"profile": {}, "sso-session": {}, "services": {}}
    config: dict = {}
    for key, values in sections.items():
        kind = next((k for k in by_kind if key.startswith(k)), None)
        if kind is not None:
            try:
                parts = shlex.split(key)
            except ValueError:
                continue
            if len(parts) == 2:
                by_kind[kind][parts[1]] = values
        elif key == "default":
            by_kind["profile"][key] = values
        else:
            config[key] = values
    config.update(profiles=by_kind["profile"], sso_sessions=by_kind["sso-session"], services=by_kind["services"])
    return config
