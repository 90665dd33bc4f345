"""The command line: parse flags, call one plain function of tray.core, print, exit with SPEC §3's codes.

One module per group of commands (`session`: login, logout, status; `roles`: profiles, export, write,
credential-process, console, exec; `remote`: ssh; `setup`: configure, completion, autostart; `desktop`: run,
find, demo, simulator), the parser in `parser`, what they print through in `output`; `demo` is the demo itself.

Kept light on purpose: nothing here imports boto3; the engine loads it only when a command calls AWS.
An `export` answered from the cache is over in a few tens of milliseconds, most of them imports, so only the
command's own module is imported, and what it loads (config, profiles, credentials, settings, exports) keeps
its records in namedtuples and plain classes: importing dataclasses (and inspect with it) would add a tenth to
its time, and typing.NamedTuple about half as much.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from tray.cli.output import print_err, survive_any_code_page
from tray.core.errors import TrayError, UsageError


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    survive_any_code_page()
    if argv[:1] == ["__complete"]:  # the completion scripts' call for names: hidden, and no parser to build
        from tray.core.outlets.completion import answer

        return answer(argv[1:])
    if argv and argv[0] == "simulator":  # its own parser owns every flag after the word
        args = argparse.Namespace(func="desktop.cmd_simulator", simulator_args=argv[1:])
    else:
        from tray.cli.parser import build_parser

        # everything after exec's `--` is the command's own, flags included: argparse never sees it
        command = argv[argv.index("--") + 1 :] if argv[:1] == ["exec"] and "--" in argv else None
        try:
            args = build_parser(argv[0] if argv else None).parse_args(argv if command is None else argv[: len(argv) - len(command) - 1])
            if argv[:1] == ["exec"]:
                args.command = command
        except UsageError as e:
            print_err(str(e))
            return e.exit_code
    module, _, function = (getattr(args, "func", None) or "desktop.cmd_run").partition(".")
    try:
        return getattr(importlib.import_module(f"tray.cli.{module}"), function)(args)
    except TrayError as e:
        print_err(str(e))
        return e.exit_code
    except KeyboardInterrupt:
        print_err("interrupted")
        return 130
    except Exception as e:  # a bug: still one line, no traceback (SSO_TRAY_DEBUG=1 shows it)
        if os.environ.get("SSO_TRAY_DEBUG"):
            raise
        print_err(f"internal error ({type(e).__name__}); run again with SSO_TRAY_DEBUG=1 for details")
        return 1
