"""The sso (portal) API: ListAccounts, ListAccountRoles, GetRoleCredentials, Logout.

Each operation takes the bearer token and the query string (first values), and returns the
response body as the sso model (2019-06-10) shapes it.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import string

from .directory import Directory
from .errors import no_access, portal_error
from .state import IdentityStore

DEFAULT_PAGE_SIZE = 20  # what the real portal returns when max_result is not sent
MAX_PAGE_SIZE = 100  # MaxResultType max; the real portal rejects more with InvalidRequestException

_KEY_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"


def list_accounts(store: IdentityStore, directory: Directory, token: str | None, query: dict) -> dict:
    store.authenticate(token)
    items = [a.info() for a in directory.accounts]
    page, next_token = _page(items, query, scope="accounts")
    return _with_token({"accountList": page}, next_token)


def list_account_roles(store: IdentityStore, directory: Directory, token: str | None,
                       query: dict) -> dict:
    store.authenticate(token)
    account_id = _required(query, "account_id")
    account = directory.get(account_id)
    if account is None:
        raise no_access()
    items = [{"roleName": r, "accountId": account_id} for r in account.roles]
    page, next_token = _page(items, query, scope=account_id)
    return _with_token({"roleList": page}, next_token)


def get_role_credentials(store: IdentityStore, directory: Directory, token: str | None,
                         query: dict) -> dict:
    store.authenticate(token)
    account_id = _required(query, "account_id")
    role_name = _required(query, "role_name")
    if not directory.has_role(account_id, role_name):
        raise no_access()
    expiration = store.now() + store.options.credential_lifetime
    return {
        "roleCredentials": {
            "accessKeyId": "ASIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16)),
            "secretAccessKey": "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40)),
            "sessionToken": base64.b64encode(secrets.token_bytes(300)).decode("ascii"),
            "expiration": int(expiration * 1000),  # epoch milliseconds
        }
    }


def logout(store: IdentityStore, token: str | None) -> None:
    store.logout(token)


# -- pagination ------------------------------------------------------------------------------------


def _page(items: list, query: dict, scope: str) -> tuple[list, str | None]:
    size = DEFAULT_PAGE_SIZE
    raw_size = query.get("max_result")
    if raw_size is not None:
        try:
            size = int(raw_size)
        except ValueError:
            size = 0
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise portal_error("InvalidRequestException",
                               f"ResultSize parameter must be within the valid limits of: 1-{MAX_PAGE_SIZE}")
    start = 0
    raw_token = query.get("next_token")
    if raw_token:
        start = _decode_token(raw_token, scope)
    end = start + size
    return items[start:end], (_encode_token(end, scope) if end < len(items) else None)


def _encode_token(offset: int, scope: str) -> str:
    raw = json.dumps({"o": offset, "s": scope}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii")


def _decode_token(token: str, scope: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
        offset = data["o"]
        if data["s"] != scope or not isinstance(offset, int) or offset < 0:
            raise ValueError
        return offset
    except (ValueError, KeyError, TypeError, UnicodeError, binascii.Error):
        raise portal_error("InvalidRequestException", "Invalid nextToken") from None


def _with_token(body: dict, next_token: str | None) -> dict:
    if next_token is not None:
        body["nextToken"] = next_token
    return body


def _required(query: dict, name: str) -> str:
    value = query.get(name)
    if not value:
        raise portal_error("InvalidRequestException", f"{name} is required")
    return value
