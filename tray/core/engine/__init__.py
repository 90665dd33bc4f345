"""The tray's engine: the one owner of every session's state (`engine`, with what falls due for a
session in `jobs`, the sign-ins in `signins` and the credential actions in `actions` mixed into it), the
event loop it runs on (`loop`), its records and backoffs (`record`), the snapshot it builds (`view`) into the
immutable State the UI draws (`state`), the scheduler of wall-clock deadlines (`scheduler`) and when to
warn (`warnings`).

May import every other room of `tray.core`; nothing in `tray.core` imports it.
"""
