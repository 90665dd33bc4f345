"""The accounts and roles assigned to the simulated person: deterministic, built from the options."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .options import SimulatorOptions

DEFAULT_ROLE_NAMES = (
    "AdministratorAccess",
    "ReadOnlyAccess",
    "PowerUserAccess",
    "ViewOnlyAccess",
    "Billing",
    "SecurityAudit",
    "DatabaseAdministrator",
    "NetworkAdministrator",
    "DataScientist",
    "SupportUser",
)
_ENVIRONMENTS = (
    "dev", "prod", "staging", "sandbox", "shared-services",
    "security", "logging", "network", "data", "build",
)
FIRST_ACCOUNT_ID = 111100000000


def account_id(index: int) -> str:
    """The 12-digit id of account ``index`` (0-based): 111100000000, 111100000001, ..."""
    return f"{FIRST_ACCOUNT_ID + index:012d}"


def default_account_name(index: int) -> str:
    """dev-0, prod-1, staging-2, ..."""
    return f"{_ENVIRONMENTS[index % len(_ENVIRONMENTS)]}-{index}"


@dataclass(frozen=True)
class Account:
    account_id: str
    name: str
    email: str
    roles: tuple[str, ...]

    def info(self) -> dict[str, str]:
        """The model's AccountInfo."""
        return {"accountId": self.account_id, "accountName": self.name, "emailAddress": self.email}


class Directory:
    """An immutable snapshot of the assignments for one set of options."""

    def __init__(self, options: SimulatorOptions) -> None:
        names = list(options.account_names or [])
        role_names = list(dict.fromkeys(options.role_names or DEFAULT_ROLE_NAMES))
        per_account = max(0, min(options.roles_per_account, len(role_names)))
        accounts = []
        for i in range(max(0, options.accounts)):
            name = names[i] if i < len(names) else default_account_name(i)
            roles = tuple(role_names[(i + j) % len(role_names)] for j in range(per_account))
            email = f"aws+{_slug(name)}@example.com"
            accounts.append(Account(account_id(i), name, email, roles))
        self.accounts: tuple[Account, ...] = tuple(accounts)
        self._by_id = {a.account_id: a for a in accounts}
        self._role_sets = {a.account_id: frozenset(a.roles) for a in accounts}

    def get(self, account: str) -> Account | None:
        return self._by_id.get(account)

    def has_role(self, account: str, role: str) -> bool:
        return role in self._role_sets.get(account, ())


def _slug(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in name.lower())
    return cleaned.strip("-.") or "account"


class DirectoryCache:
    """Rebuilds the directory only when the options that shape it change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._directory: Directory | None = None

    def current(self, o: SimulatorOptions) -> Directory:
        key = (o.accounts, o.roles_per_account,
               tuple(o.account_names or ()), tuple(o.role_names or ()))
        with self._lock:
            if key != self._key or self._directory is None:
                self._directory = Directory(o)
                self._key = key
            return self._directory
