"""sso-tray: a system-tray app for AWS IAM Identity Center."""

__version__ = "0.1.0"
