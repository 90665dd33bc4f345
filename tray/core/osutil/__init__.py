"""What differs per operating system beyond file locations: starting at login (`autostart`: XDG autostart,
LaunchAgent, the Windows Run key) and loopback servers that answer only this user (`loopback`).

May import: `tray.core.errors`, `tray.core.credentials`, `tray.core.files`.
"""
