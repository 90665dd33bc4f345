"""Errors that reach the person: one clear line each, and the exit code of SPEC §3; `shown` for any text
from elsewhere in such a line or in a listing."""


class TrayError(Exception):
    """Base of every error sso-tray reports. Its message is shown as it is: never put a secret in it."""

    exit_code = 1


class UsageError(TrayError):
    exit_code = 2


class ConfigError(TrayError):
    """The AWS config (or sso-tray's own settings) is missing, malformed or incomplete."""

    exit_code = 2


class NotSignedIn(TrayError):
    """No valid token for the session: the message says which command signs in."""

    exit_code = 3


class AwsError(TrayError):
    """AWS (or the network on the way to it) failed, or a local resource the command needs is unavailable."""

    exit_code = 4


def shown(text: str, limit: int | None = None) -> str:
    """Text from a portal, a server or a file, fit for one line of a terminal or a message: as it is when every
    character is printable, else quoted as Python's repr writes it, so an escape sequence shows instead of
    acting on the terminal, and no newline or bidi override breaks or reorders the line. `limit` cuts it."""
    out = text if text.isprintable() else repr(text)
    if limit is None or len(out) <= limit:
        return out
    if out is text:
        return text[: limit - 3] + "..."
    return out[: limit - 4].rstrip("\\") + "..." + out[0]  # repr's own quote
