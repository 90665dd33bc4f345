"""Files on disk: where each one lives (`paths`), atomic writes and locks (`fileio`), the INI editor that
keeps every byte it does not own (`inifile`), the credentials file (`credfile`), the AWS config writer
(`configwrite`) and the app's own settings (`settings`).

May import: `tray.core.errors`, `tray.core.credentials`. Nothing here knows about AWS APIs or the tray.
"""
