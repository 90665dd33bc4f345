"""Files on disk: where each one lives (`paths`), atomic writes and locks (`fileio`), the INI editor that
keeps every byte it does not own (`inifile`), the credentials file (`credfile`), the AWS config writer
(`configwrite`), the app's own settings (`settings`) and the tray's log file (`applog`).

May import: `tray.core.errors`, `tray.core.credentials`. Nothing here knows about AWS APIs or the tray.
"""
