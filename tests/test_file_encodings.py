"""The tests' own text file I/O names its encoding.

Without `encoding=`, `open`, `read_text` and `write_text` use the locale's encoding: UTF-8 here, the ANSI
code page (cp1252, cp932, ...) on Windows, where a test that writes "開発" then fails before the product
is even asked (the Windows lane, tests/windows, runs these files under Windows CPython)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def unnamed_encodings(source: str) -> list[int]:
    """Lines of `source` that open, read or write text without naming its encoding."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or any(k.arg == "encoding" for k in node.keywords):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in ("read_text", "write_text"):
            lines.append(node.lineno)
        elif isinstance(func, ast.Name) and func.id == "open":
            mode = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "mode"), None)
            modes = [mode.body, mode.orelse] if isinstance(mode, ast.IfExp) else [mode]  # "r+b" if ... else "wb"
            binary = all(isinstance(m, ast.Constant) and "b" in str(m.value) for m in modes)
            if not binary:
                lines.append(node.lineno)
    return lines


def test_the_check_finds_what_it_looks_for():
    source = ('open(p)\nopen(p, "rb")\np.read_text()\np.write_text(t, encoding="utf-8")\nopen(p, mode="w")\n'
              'open(p, "r+b" if new else "wb")\nopen(p, "r+" if new else "wb")\n')
    assert unnamed_encodings(source) == [1, 3, 5, 7]


def test_every_test_file_names_its_encoding():
    found = {
        str(path.relative_to(TESTS)): lines
        for path in sorted(TESTS.rglob("*.py"))
        if (lines := unnamed_encodings(path.read_text(encoding="utf-8")))
    }
    assert found == {}, "add encoding=\"utf-8\" at these lines"
