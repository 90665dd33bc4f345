"""The command line's plain reading of `export PROFILE [--format F]` and `credential-process PROFILE`
(tray.cli.plain_args, which spares those calls argparse) against the parser's own reading."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import run_cli
from tray.cli import plain_args
from tray.cli.parser import build_parser

READ_PLAINLY = [
    ["export", "dev-admin"],
    ["export", "111122223333/Admin"],
    ["export", "Prod Account/ReadOnly"],
    ["export", "開発"],
    ["export", ""],
    ["export", "dev-admin", "--format", "json"],
    ["export", "dev-admin", "--format", "nonsense"],
    ["credential-process", "dev-admin"],
    ["credential-process", "acct name/Role"],
    ["prompt"],
]

LEFT_TO_THE_PARSER = [
    [], ["export"], ["credential-process"], ["status"], ["write", "p"], ["console", "p"],
    ["export", "-h"], ["export", "--help"], ["export", "--copy", "p"], ["export", "p", "--copy"],
    ["export", "p", "--format=json"], ["export", "p", "--form", "json"], ["export", "--format", "json", "p"],
    ["export", "p", "--sso-session", "s"], ["export", "p", "--format", "-x"], ["export", "p", "q"],
    ["export", "p", "--format"], ["export", "-1"], ["export", "--", "p"], ["credential-process", "p", "--format", "json"],
    ["credential-process", "p", "--sso-session", "s"], ["credential-process", "--version"],
    ["prompt", "--help"], ["prompt", "x"],
]


@pytest.mark.parametrize("argv", READ_PLAINLY, ids=" ".join)
def test_plain_reading_is_the_parsers(argv):
    assert vars(plain_args(argv)) == vars(build_parser(argv[0]).parse_args(argv))


@pytest.mark.parametrize("argv", LEFT_TO_THE_PARSER, ids=" ".join)
def test_everything_else_goes_to_the_parser(argv):
    assert plain_args(argv) is None


def test_a_plain_export_imports_no_argparse(home):
    """What the plain reading is for: without a config the command fails, but argparse was never loaded."""
    code = "import sys; from tray.cli import main; main(['export', 'p']); print(*sys.modules, file=sys.stderr)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "no AWS config file" in result.stderr
    assert "argparse" not in result.stderr.split()
    # and a mistake beside it is still the parser's one line
    wrong = run_cli("export", "p", "--format")
    assert wrong.returncode == 2 and wrong.stderr.startswith("sso-tray: argument --format: expected one argument")
