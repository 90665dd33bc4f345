"""Run-time settings of the Identity Center simulator.

Every field may be changed while the simulator runs (``sim.options.throttle = 1.0``);
each request reads the values it needs when it arrives.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

DAY = 86400


@dataclass
class SimulatorOptions:
    # The directory: which accounts and roles the signed-in person is assigned.
    accounts: int = 3
    roles_per_account: int = 2
    account_names: list[str] | None = None  # names of the first len(names) accounts
    role_names: list[str] | None = None  # cycled; account i starts at role i
    # Lifetimes, in seconds.
    token_lifetime: int = 28800  # access token expiresIn
    session_lifetime: int = 8 * DAY  # how long a sign-in (and its refresh tokens) lasts
    credential_lifetime: int = 3600  # role credentials from GetRoleCredentials
    client_lifetime: int = 90 * DAY  # client registrations (clientSecretExpiresAt)
    device_code_lifetime: int = 600
    device_interval: int = 1
    login_credential_lifetime: int = 900  # `aws login` credentials (CreateOAuth2Token expiresIn)
    login_session_lifetime: int = 12 * 3600  # how long an `aws login` sign-in can be refreshed
    # Behaviour.
    refresh_tokens: bool = True  # issue refresh tokens to clients registered for them
    rotate_refresh_tokens: bool = False  # a used refresh token stops working
    auto_approve: bool = False  # no person needed: approve every sign-in at once
    region: str = "us-east-1"
    login_principal: str = "arn:aws:iam::111122223333:user/alice"  # who `aws login` signs in as
    # Faults.
    latency: float = 0.0  # seconds added to every API call
    throttle: float = 0.0  # fraction of API calls answered 429 TooManyRequestsException
    rate_limit: float | None = None  # API calls per second per caller (token bucket)
    seed: int | None = None  # seeds the throttle's random choices

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_FIELDS = {f.name: f for f in dataclasses.fields(SimulatorOptions)}
_INTS = {"accounts", "roles_per_account", "token_lifetime", "session_lifetime",
         "credential_lifetime", "client_lifetime", "device_code_lifetime", "device_interval",
         "login_credential_lifetime", "login_session_lifetime"}
_FLOATS = {"latency", "throttle"}
_BOOLS = {"refresh_tokens", "rotate_refresh_tokens", "auto_approve"}
_NAME_LISTS = {"account_names", "role_names"}


def apply_patch(options: SimulatorOptions, patch: Any) -> None:
    """Set the fields named in ``patch`` (a JSON object) after checking all of them.

    Raises ValueError naming the first bad field; nothing is changed then.
    """
    if not isinstance(patch, dict):
        raise ValueError("options must be a JSON object")
    checked: dict[str, Any] = {}
    for name, value in patch.items():
        if name not in _FIELDS:
            raise ValueError(f"unknown option {name!r}")
        checked[name] = _check(name, value)
    for name, value in checked.items():
        setattr(options, name, value)


def _check(name: str, value: Any) -> Any:
    def bad() -> ValueError:
        return ValueError(f"bad value for option {name!r}")

    if name in _BOOLS:
        if not isinstance(value, bool):
            raise bad()
        return value
    if name in _INTS:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise bad()
        return value
    if name in _FLOATS:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise bad()
        if name == "throttle" and value > 1:
            raise bad()
        return float(value)
    if name == "rate_limit":
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise bad()
        return float(value)
    if name == "seed":
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise bad()
        return value
    if name in _NAME_LISTS:
        if value is None:
            return None
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise bad()
        return list(value)
    if name in ("region", "login_principal"):
        if not isinstance(value, str) or not value:
            raise bad()
        return value
    raise bad()  # pragma: no cover - every field is handled above
