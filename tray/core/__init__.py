"""Everything sso-tray knows and does, with no UI: AWS, files, time.

The rooms, lowest first; a room imports only from rooms below it (tests/test_architecture.py reads the
imports and fails on one that points up):

- `tray.core.errors`, `tray.core.credentials`, `tray.core.naming`: the vocabulary every room shares (errors
  with their exit codes; role credentials and the time format; the number-aware order of names, search
  ranking and "did you mean"). They import nothing of sso-tray.
- `files`: our own files and the AWS CLI's, on disk: where they live, atomic writes and locks, the INI
  editor, the credentials file, the config writer, the app's settings.
- `osutil`: what differs per operating system beyond paths: start at login, loopback servers for this user.
- `identity`: the Identity Center protocol: the AWS config's sessions, tokens, sign-in, renewal, accounts
  and roles, role credentials, the rate limit, boto3 clients.
- `outlets`: the ways credentials leave: export lines, the clipboard, exec and its endpoint, the console
  link, shell completion.
- `engine`: the tray's engine: the event loop, the session owner, the scheduler, warnings, State.

`tray.ui` and `tray.cli` sit above all of these; `tray.simulator` imports nothing of sso-tray.
"""
