"""The ways credentials leave sso-tray: export lines in every shell's syntax (`exports`), the clipboard that
clears itself (`clipboard`), `exec` and its credentials endpoint (`execrun`), the console sign-in link
(`console`) and shell completion (`completion`).

May import: `tray.core.errors`, `tray.core.credentials`, `tray.core.files`, `tray.core.osutil`,
`tray.core.identity`.
"""
