"""Role credentials from GetRoleCredentials, reused only while more than 15 minutes are left.

botocore refreshes any credentials inside 15 minutes of their expiry (10 minutes mandatory), so handing an
SDK less would make it run `credential-process` again on every credential read: anything with 15 minutes or
less left is fetched anew, by `export` and `credential-process` as by the tray.

They are kept where the AWS CLI v2 keeps them (`~/.aws/cli/cache`, same key, same JSON, mode 0600),
so a fresh `export` or `credential-process` answers from disk with no API call and no AWS SDK import,
and sso-tray and the AWS CLI reuse each other's credentials.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tray.core.files import paths
from tray.core.identity.config import SsoSession
from tray.core.credentials import RoleCredentials, utcnow
from tray.core.errors import AwsError

REUSE_MARGIN = timedelta(minutes=15)  # botocore's advisory refresh window


def role_cache_path(session: SsoSession, account_id: str, role_name: str) -> Path:
    """The AWS CLI v2's key: sha1 of the compact, sorted JSON of account, role and session (or start URL)."""
    args = {"accountId": account_id, "roleName": role_name}
    if session.legacy:
        args["startUrl"] = session.start_url
    else:
        args["sessionName"] = session.name
    key = hashlib.sha1(json.dumps(args, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()
    return paths.cli_cache_dir() / f"{key}.json"


def fresh_enough(creds: RoleCredentials, now: datetime, margin: timedelta = REUSE_MARGIN) -> bool:
    return creds.expiration - now > margin


def read_cached(session: SsoSession, account_id: str, role_name: str, now: datetime, margin: timedelta = REUSE_MARGIN) -> RoleCredentials | None:
    """Cached credentials still good for more than `margin`, or None (a corrupt file counts as none)."""
    try:
        body = json.loads(role_cache_path(session, account_id, role_name).read_text(encoding="utf-8"))
        creds = RoleCredentials.from_cli_cache(body)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return creds if fresh_enough(creds, now, margin) else None


def fetch(session: SsoSession, account_id: str, role_name: str, now: datetime | None = None) -> RoleCredentials:
    """New credentials from GetRoleCredentials (the session must be signed in), cached on disk."""
    # imported here: the cached path (`read_cached`) must stay free of the network machinery
    from tray.core.identity import aws
    from tray.core.files.fileio import write_json
    from tray.core.identity.sessions import valid_token

    now = now or utcnow()
    token = valid_token(session, now)
    sso = aws.client("sso", session.region or token.region)
    what = f"getting credentials for {role_name} in {account_id}"
    try:
        response = sso.get_role_credentials(roleName=role_name, accountId=account_id, accessToken=token.access_token)
    except Exception as e:
        if aws.error_code(e) == "ForbiddenException":
            raise AwsError(f"{what}: the role {role_name} in account {account_id} is not assigned to you (ForbiddenException)") from None
        raise aws.translate(e, what, session.login_hint) from None
    rc = response["roleCredentials"]
    creds = RoleCredentials(
        access_key_id=rc["accessKeyId"],
        secret_access_key=rc["secretAccessKey"],
        session_token=rc["sessionToken"],
        expiration=datetime.fromtimestamp(int(rc["expiration"]) / 1000, tz=timezone.utc).replace(microsecond=0),
        account_id=account_id,
    )
    write_json(role_cache_path(session, account_id, role_name), creds.to_cli_cache())
    return creds


def get(session: SsoSession, account_id: str, role_name: str, now: datetime | None = None, margin: timedelta = REUSE_MARGIN) -> RoleCredentials:
    """Credentials for the role good for more than `margin`: from the cache, else from GetRoleCredentials."""
    now = now or utcnow()
    return read_cached(session, account_id, role_name, now, margin) or fetch(session, account_id, role_name, now)


def forget_all() -> int:
    """Remove every SSO role credential from the AWS CLI's cache, as `aws sso logout` does."""
    removed = 0
    folder = paths.cli_cache_dir()
    for path in folder.glob("*.json") if folder.is_dir() else ():
        try:
            if json.loads(path.read_text(encoding="utf-8")).get("ProviderType") == "sso":
                path.unlink()
                removed += 1
        except (OSError, ValueError, AttributeError):
            continue
    return removed
