"""The tray's engine: the one owner of every session's state (`engine`), the scheduler of wall-clock
deadlines (`scheduler`), when to warn (`warnings`) and the immutable snapshot the UI draws (`state`).

May import every other room of `tray.core`; nothing in `tray.core` imports it.
"""
