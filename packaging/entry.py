"""The PyInstaller entry point: the frozen app is both `sso-tray` and the `python` that sso-tray re-runs.

A bundle has no separate Python, so `sys.executable` is the app itself. sso-tray starts helpers as
`sys.executable -m MODULE ...` (the clipboard clearer: `-m tray.core.outlets.clipboard clear-after SECONDS SHA`);
here those command lines are sent to the module they name. Everything else is the sso-tray command line.
"""

import sys


def main(argv: list[str]) -> int:
    if argv[:2] == ["-m", "tray.core.outlets.clipboard"]:
        from tray.core.outlets.clipboard import main as clipboard_main

        return clipboard_main(argv[2:])
    if argv[:2] == ["-m", "tray"]:
        argv = argv[2:]
    elif argv[:1] == ["-m"]:
        print(f"sso-tray: this bundle runs only `-m tray` and `-m tray.core.outlets.clipboard`, not {' '.join(argv[:2])}", file=sys.stderr)
        return 2
    from tray.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
