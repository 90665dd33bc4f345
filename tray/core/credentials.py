"""Role credentials as sso-tray passes them around, and their AWS CLI v2 cache form."""

from __future__ import annotations

from collections import namedtuple
from datetime import datetime, timezone

ISO_Z = "%Y-%m-%dT%H:%M:%SZ"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def format_time(t: datetime) -> str:
    """ISO 8601 UTC with a Z, as the AWS CLI v2 writes times."""
    return t.astimezone(timezone.utc).strftime(ISO_Z)


def parse_time(text: str) -> datetime:
    """Read a time as botocore reads the token and role-credential caches (`…Z`, `…+00:00`, `…+0000`, `…UTC`,
    fractions of any length). Raises ValueError when it is not a time; a time without a zone is UTC."""
    s = text.strip()
    if s.endswith("UTC"):
        s = s[:-3].strip() + "+00:00"
    if s.endswith("Z") or s.endswith("z"):
        s = s[:-1] + "+00:00"
    try:
        t = datetime.fromisoformat(s)
    except ValueError:
        # Python 3.10's fromisoformat takes only 3- or 6-digit fractions and `+HH:MM` offsets. botocore reads
        # these caches with dateutil (its own dependency), imported only here so that a cached `export` stays light.
        import dateutil.parser

        try:
            t = dateutil.parser.parse(text)
        except OverflowError as e:
            raise ValueError(f"{text!r} is not a time: {e}") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc)


# a namedtuple, not a dataclass: a cached `export` loads this module (see tray/cli.py)
class RoleCredentials(namedtuple("RoleCredentials", "access_key_id secret_access_key session_token expiration account_id", defaults=(None,))):
    """`expiration` is an aware datetime in UTC; `account_id` may be None."""

    __slots__ = ()

    def __repr__(self) -> str:  # never show the secret parts, even in a traceback
        return f"RoleCredentials(access_key_id={self.access_key_id!r}, expiration={format_time(self.expiration)}, account_id={self.account_id!r})"

    def to_cli_cache(self) -> dict:
        """The body the AWS CLI v2 keeps in ~/.aws/cli/cache for an SSO role."""
        creds = {
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
            "SessionToken": self.session_token,
            "Expiration": format_time(self.expiration),
        }
        if self.account_id:
            creds["AccountId"] = self.account_id
        return {"ProviderType": "sso", "Credentials": creds}

    @classmethod
    def from_cli_cache(cls, body: dict) -> "RoleCredentials":
        c = body["Credentials"]
        return cls(
            access_key_id=c["AccessKeyId"],
            secret_access_key=c["SecretAccessKey"],
            session_token=c["SessionToken"],
            expiration=parse_time(c["Expiration"]),
            account_id=c.get("AccountId"),
        )
