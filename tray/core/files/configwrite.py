"""The one writer of the AWS config file (`$AWS_CONFIG_FILE` or `~/.aws/config`): SPEC §9.

It follows the credentials file's rules (SPEC §6, `inifile`): only the sections it writes change,
every other byte stays, each write is atomic, locked, keeps the file's mode (0600 for a new file) and
follows a symlink. Sections are matched the way botocore reads their headers (`[profile  a]` is
profile `a`, `[default]` is `[profile default]`), so nothing is added twice.

It writes two kinds of section: `[sso-session NAME]` (`configure`, and the finder page's setup form)
and, for `configure profiles`, one `[profile NAME]` per role marked `sso_tray_managed = true`. Only
marked profiles are ever changed or removed; a hand-written one is never touched.
"""

from __future__ import annotations

import re
import shlex
from collections import namedtuple
from functools import lru_cache
from urllib.parse import urlsplit

from tray.core.files import inifile, paths
from tray.core.errors import UsageError, shown

DEFAULT_SCOPES: tuple[str, ...] = ("sso:account:access",)
_SESSION_KEYS = frozenset({"sso_start_url", "sso_region", "sso_registration_scopes"})
# Session and profile names sso-tray writes: what survives botocore's shlex split of the header, a shell
# word and a file name unquoted.
_NAME_RE = re.compile(r"[A-Za-z0-9_.@+=,-]+")
_UNSAFE_RE = re.compile(r"[^A-Za-z0-9_.@+=,-]+")
_HOST_LABEL_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_START_URL_HINT = "expected https://YOUR-SUBDOMAIN.awsapps.com/start"


def validate_start_url(url: str) -> str:
    """The start URL as the AWS CLI stores it (surrounding spaces dropped); `UsageError` when it cannot be one.

    Identity Center's forms all qualify: `https://d-1234567890.awsapps.com/start` (also `…/start/`, `…/start/#`),
    a custom subdomain, `https://start.us-gov-home.awsapps.com/directory/…`, `https://….awsapps.cn/start`."""
    url = (url or "").strip()
    if not url:
        raise UsageError(f"the start URL is empty: {_START_URL_HINT}")
    if any(c.isspace() for c in url):
        raise UsageError(f"not a valid start URL (it contains a space): {_START_URL_HINT}")
    if not url.isprintable():
        # Not echoed: a terminal would act on an escape sequence; NUL and the like end up in the config.
        raise UsageError(f"not a valid start URL (it contains a control character): {_START_URL_HINT}")
    # User info and a query are refused before anything echoes the URL, and never echoed: what sits there may be
    # a password. A start URL has no `@` anywhere; looking in the text, not in urlsplit's parts, also catches user
    # info that urlsplit would take for a scheme or a path (`me:pw@host/start`, `https:/me:pw@host/start`).
    no_secrets = f"not a valid start URL (no user name, password or query belongs in it): {_START_URL_HINT}"
    if "@" in url:
        raise UsageError(no_secrets)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UsageError(f"not a valid start URL: {url.split('?')[0]} ({_START_URL_HINT})") from None
    if parts.query:
        raise UsageError(no_secrets)
    host = parts.hostname or ""
    if parts.scheme.lower() != "https":
        raise UsageError(f"not a valid start URL: {url} (it must start with https://; {_START_URL_HINT})")
    labels = host.split(".")
    if len(labels) < 2 or not all(_HOST_LABEL_RE.fullmatch(label) for label in labels) or port == 0:
        raise UsageError(f"not a valid start URL: {url} (no valid host name; {_START_URL_HINT})")
    return url


def default_session_name(start_url: str) -> str:
    """The name `configure` gives a session: the start URL's subdomain (`example` for https://example.awsapps.com/start).

    Where the first label is not the organisation's (`start.us-gov-home.awsapps.com/directory/d-…`,
    `identitycenter.amazonaws.com/ssoins-…`), the last part of the path is."""
    parts = urlsplit(start_url.strip())
    label = (parts.hostname or "").split(".")[0]
    if label in ("", "start", "identitycenter", "portal"):
        segments = [s for s in parts.path.split("/") if s and s != "start"]
        label = segments[-1] if segments else label
    return safe_name(label) or "sso"


def safe_name(text: str) -> str:
    """`text` made a valid section name: every run of other characters becomes one `-`."""
    return _UNSAFE_RE.sub("-", text.strip()).strip("-")


def validate_name(name: str, what: str = "session") -> str:
    if not _NAME_RE.fullmatch(name or ""):
        raise UsageError(f"{name!r} cannot be a {what} name: use letters, digits and _ . @ + = , -")
    return name


@lru_cache(maxsize=1)
def _regions() -> dict[str, str]:
    """Every region botocore's endpoint data knows, with its partition (loaded once, when first asked)."""
    from botocore.loaders import create_loader

    data = create_loader().load_data("endpoints")
    return {region: p["partition"] for p in data["partitions"] for region in p.get("regions", {})}


def validate_region(region: str) -> str:
    """A region botocore knows (`us-east-1`, `cn-north-1`, `us-gov-west-1`, …); `UsageError` otherwise."""
    region = (region or "").strip()
    if region not in _regions():
        raise UsageError(f"{region!r} is not an AWS region known to botocore (e.g. us-east-1, eu-west-1)")
    return region


def partition_of(region: str) -> str | None:
    """The partition (`aws`, `aws-cn`, `aws-us-gov`, …) of a known region, else None."""
    return _regions().get(region)


def section_key(header: str) -> str:
    """A section's identity as botocore reads its header: `profile NAME`, `sso-session NAME`, or the header itself."""
    try:
        parts = shlex.split(header)
    except ValueError:
        return header
    if parts == ["default"]:
        return "profile default"
    if len(parts) == 2 and parts[0] in ("profile", "sso-session", "services"):
        return f"{parts[0]} {parts[1]}"
    return header


def read_config() -> dict[str, dict[str, str]]:
    """Every section of the AWS config by `section_key`, read as text (no botocore import)."""
    return inifile.read_sections(inifile.read_text(paths.aws_config_file()), key=section_key)


def write_sso_session(start_url: str, region: str | None, name: str | None = None, scopes: tuple[str, ...] = DEFAULT_SCOPES) -> str:
    """Add or update `[sso-session NAME]` (only that section changes); returns NAME.

    With no region the section has no `sso_region` (a vanity start URL: the sign-in finds the region and writes
    it back; tray.core.identity.startregion). Keys of the section that sso-tray does not own (a user's own notes
    or settings) are kept."""
    start_url = validate_start_url(start_url)
    region = validate_region(region) if region else None
    name = validate_name(name.strip() if name else default_session_name(start_url))
    if not scopes or not all(re.fullmatch(r"[^\s,]+", s) for s in scopes):
        raise UsageError("registration scopes must be non-empty words without spaces or commas")
    values = {"sso_start_url": start_url, "sso_region": region, "sso_registration_scopes": ", ".join(scopes)}
    if region is None:
        del values["sso_region"]
    inifile.check_values(values, "the AWS config")
    inifile.rewrite(
        paths.aws_config_file(),
        lambda text: inifile.edit(text, {f"sso-session {name}": values}, _SESSION_KEYS, key=section_key),
    )
    return name


def write_sso_region(session_name: str, region: str, legacy: bool = False) -> None:
    """Set `sso_region` in `[sso-session NAME]` (for a legacy session, NAME is the start URL: in each profile with
    that `sso_start_url` and no `sso_region`), as the AWS CLI v2 does after a sign-in found the region. Only
    that key changes; every other byte of the file stays."""
    region = validate_region(region)

    def change(text: str) -> str:
        if not legacy:
            return inifile.edit(text, {f"sso-session {session_name}": {"sso_region": region}}, key=section_key)
        sections = inifile.read_sections(text, key=section_key)
        names = [k for k, v in sections.items()
                 if k.startswith("profile ") and v.get("sso_start_url") == session_name and not v.get("sso_region") and "sso_session" not in v]
        return inifile.edit(text, {k: {"sso_region": region} for k in names}, key=section_key)

    inifile.rewrite(paths.aws_config_file(), change)


def write_login_session(profile: str, login_session: str) -> None:
    """Set `login_session` in the profile (who `aws login` signed in as), as the AWS CLI does; only that key changes."""
    inifile.check_values({"login_session": login_session}, "the AWS config")
    inifile.rewrite(
        paths.aws_config_file(),
        lambda text: inifile.edit(text, {f"profile {profile}": {"login_session": login_session}}, key=section_key),
    )


# --------------------------------------------------------------------------- configure profiles

# A key botocore and the AWS CLI read past: it marks the profiles `configure profiles` wrote, the only
# ones it will ever change or remove.
MANAGED_KEY = "sso_tray_managed"
DEFAULT_NAME_FORMAT = "{account_name}.{role_name}"
_FORMAT_FIELDS = "{account_name}, {account_id}, {role_name}, {sso_session}"


# What `configure profiles` does (or, with --dry-run, would do), as lists of profile names: `stale` ones were
# written by sso-tray for a role that is gone and kept because --prune was not given; `by_hand` holds
# (ACCOUNT_ID/ROLE, the hand-written profile that has that role already).
ProfilePlan = namedtuple("ProfilePlan", "added updated unchanged removed stale by_hand")


def profile_name(name_format: str, account_id: str, account_name: str, role_name: str, session_name: str) -> str:
    """A role's profile name by `name_format`, made safe for a section name (other characters become `-`)."""
    try:
        raw = name_format.format(account_id=account_id, account_name=account_name, role_name=role_name, sso_session=session_name)
    except (KeyError, IndexError, ValueError, AttributeError) as e:
        raise UsageError(f"--name-format {name_format!r} cannot be used ({type(e).__name__}: {e}); its fields are {_FORMAT_FIELDS}") from None
    name = re.sub(r"-*\.-*", ".", safe_name(raw))
    if not name:
        raise UsageError(f"--name-format {name_format!r} gives an empty name for {account_id}/{role_name}")
    return name


def check_name_format(name_format: str) -> str:
    profile_name(name_format, "123456789012", "account", "Role", "session")
    return name_format


def _is_managed(values: dict[str, str]) -> bool:
    return values.get(MANAGED_KEY, "").lower() == "true"


def _check_role(values: dict[str, str]) -> None:
    """A role from the portal that could not be written as it is refuses the whole run, nothing written:
    Identity Center gives 12-digit account IDs and permission sets named from [\\w+=,.@-], so such a
    value means the portal (or whatever the endpoint points at) is broken or hostile, and its other
    answers are no better; skipping the role would also leave --prune deciding on a partial list."""
    account_id, role_name = values["sso_account_id"], values["sso_role_name"]
    if not re.fullmatch(r"[0-9]{12}", account_id):
        raise UsageError(f"the portal gave an account ID that is not 12 digits ({shown(account_id, 40)}): nothing written")
    try:
        inifile.check_values(values, "the AWS config")
    except UsageError as e:
        raise UsageError(f"role {account_id}/{shown(role_name, 40)} from the portal: {e}; nothing written") from None


def plan_profiles(
    text: str,
    session_name: str,
    roles: list[tuple[str, str, str]],
    name_format: str = DEFAULT_NAME_FORMAT,
    region: str | None = None,
    prune: bool = False,
) -> tuple[ProfilePlan, dict[str, dict[str, str] | None]]:
    """The plan for the config `text` and the session's `roles` (account id, account name, role name), and
    the section changes that carry it out. `UsageError` for a name that clashes with a hand-written profile."""
    sections = inifile.read_sections(text, key=section_key)
    profiles = {key[len("profile ") :]: values for key, values in sections.items() if key.startswith("profile ")}
    by_hand = {
        (v.get("sso_account_id"), v.get("sso_role_name")): name
        for name, v in profiles.items()
        if not _is_managed(v) and v.get("sso_session") == session_name
    }
    plan = ProfilePlan([], [], [], [], [], [])
    wanted: dict[str, dict[str, str]] = {}
    for account_id, account_name, role_name in roles:
        values = {"sso_session": session_name, "sso_account_id": account_id, "sso_role_name": role_name}
        if region:
            values["region"] = region
        _check_role(values)
        if (account_id, role_name) in by_hand:
            plan.by_hand.append((f"{account_id}/{role_name}", by_hand[account_id, role_name]))
            continue
        name = profile_name(name_format, account_id, account_name, role_name, session_name)
        if name in wanted:
            raise UsageError(
                f"--name-format {name_format!r} gives {name} to two roles ({wanted[name]['sso_account_id']}/{wanted[name]['sso_role_name']}"
                f" and {account_id}/{role_name}): add {{account_id}} to it"
            )
        wanted[name] = {**values, MANAGED_KEY: "true"}
        existing = profiles.get(name)
        if existing is None:
            plan.added.append(name)
        elif not _is_managed(existing):
            raise UsageError(
                f"profile {name} in {paths.aws_config_file()} was not written by sso-tray and is left alone: "
                "rename it, or choose another --name-format"
            )
        elif all(existing.get(k) == v for k, v in wanted[name].items()):
            plan.unchanged.append(name)
        else:
            plan.updated.append(name)
    present = {(account_id, role_name) for account_id, _, role_name in roles}
    for name, v in profiles.items():
        if _is_managed(v) and v.get("sso_session") == session_name and (v.get("sso_account_id"), v.get("sso_role_name")) not in present:
            (plan.removed if prune else plan.stale).append(name)
    changes: dict[str, dict[str, str] | None] = {f"profile {n}": wanted[n] for n in plan.added + plan.updated}
    changes.update({f"profile {n}": None for n in plan.removed})
    return plan, changes


def write_profiles(
    session_name: str,
    roles: list[tuple[str, str, str]],
    name_format: str = DEFAULT_NAME_FORMAT,
    region: str | None = None,
    prune: bool = False,
    dry_run: bool = False,
) -> ProfilePlan:
    """Carry out `plan_profiles` on the AWS config under its lock, in one atomic write (none for a dry run)."""
    result: list[ProfilePlan] = []

    def change(text: str) -> str | None:
        plan, changes = plan_profiles(text, session_name, roles, name_format, region, prune)
        result.append(plan)
        return None if dry_run else inifile.edit(text, changes, key=section_key)

    if dry_run:
        change(inifile.read_text(paths.aws_config_file()))
    else:
        inifile.rewrite(paths.aws_config_file(), change)
    return result[0]
