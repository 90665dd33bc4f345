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

import importlib
import os
import sys
from types import SimpleNamespace

from tray.cli.output import print_err, survive_any_code_page
from tray.core.errors import TrayError, UsageError

# What a `credential_process` line or `eval "$(sso-tray export P)"` runs, many times a day, is read without
# argparse: its import, gettext's look for a translation and the terminal-size query each add_argument makes
# come to a fifth of an `export` answered from the cache. Each command's values when only PROFILE (and
# export's --format) is given; tests/test_cli_parser.py holds them to what the parser reads.
_PLAIN_DEFAULTS = {
    "export": {"func": "roles.cmd_export", "format": None, "copy": False, "refreshing": False, "sso_session": None, "duration": None},
    "credential-process": {"func": "roles.cmd_credential_process", "sso_session": None},
}
# ... and what a shell prompt runs before every command line
_PLAIN_ALONE = {"prompt": {"func": "prompt.cmd_prompt"}}


def plain_args(argv: list[str]) -> SimpleNamespace | None:
    """`export PROFILE [--format F]`, `credential-process PROFILE` or `prompt` read as the parser reads them; None for
    anything else (another command, another flag, a value starting with `-`), which the parser then reads."""
    if len(argv) == 1 and argv[0] in _PLAIN_ALONE:
        return SimpleNamespace(command=argv[0], **_PLAIN_ALONE[argv[0]])
    defaults = _PLAIN_DEFAULTS.get(argv[0]) if argv else None
    if defaults is None or len(argv) not in (2, 4) or argv[1].startswith("-"):
        return None
    args = SimpleNamespace(command=argv[0], profile=argv[1], **defaults)
    if len(argv) == 4:
        if argv[0] != "export" or argv[2] != "--format" or argv[3].startswith("-"):
            return None
        args.format = argv[3]
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    survive_any_code_page()
    if argv[:1] == ["__complete"]:  # the completion scripts' call for names: hidden, and no parser to build
        from tray.core.outlets.completion import answer

        return answer(argv[1:])
    if argv and argv[0] == "simulator":  # its own parser owns every flag after the word
        args = SimpleNamespace(func="desktop.cmd_simulator", simulator_args=argv[1:])
    elif (args := plain_args(argv)) is None:
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
        code = getattr(importlib.import_module(f"tray.cli.{module}"), function)(args)
        sys.stdout.flush()  # here, not at exit: a reader that has gone is noticed where it can be answered
        return code
    except BrokenPipeError:
        return _reader_gone()
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


def _reader_gone() -> int:
    """The reader of stdout went away (`sso-tray profiles | head -1`): stop quietly as coreutils do, with the
    status a shell reports for a program that SIGPIPE ended (128 + 13), and no complaint when Python exits."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 141
