"""The ways credentials leave sso-tray: export lines in every shell's syntax (`exports`), the clipboard that
clears itself (`clipboard`), the container credentials endpoint (`endpoint`) that `exec --server` (`execrun`),
the tray's terminals and `ssh` (`remote`) serve, the console sign-in link (`console`) and shell completion
(`completion`).

May import: `tray.core.errors`, `tray.core.credentials`, `tray.core.files`, `tray.core.osutil`,
`tray.core.identity`.
"""
