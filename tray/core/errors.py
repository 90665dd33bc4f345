"""Errors that reach the person: one clear line each, and the exit code of SPEC §3."""


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
