"""`scripts/demo` installs only what the demo needs: the real scripts/bootstrap, run by bash in a copy of
the project, with dpkg-query, apt-get and the venv's Python replaced by programs that write down what they
were asked to do (nothing is installed). And the headless demo's code runs without the test tools."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import ROOT, need_program

RECORDER = textwrap.dedent("""\
    #!/bin/sh
    echo "$(basename "$0") $*" >> "$RECORD"
    [ "$(basename "$0")" = dpkg-query ] && exit 1
    exit 0
    """)


def run_script(tmp_path: Path, script: str, *args: str) -> list[str]:
    """What `scripts/SCRIPT ARGS` asks apt-get and the venv's Python for, on a machine with none of the
    packages and no display."""
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    for name in ("bootstrap", "demo"):
        shutil.copy2(ROOT / "scripts" / name, project / "scripts" / name)
    shutil.copy2(ROOT / "pyproject.toml", project / "pyproject.toml")
    tools = tmp_path / "tools"
    tools.mkdir()
    for name in ("dpkg-query", "apt-get", "sudo"):
        (tools / name).write_text(RECORDER, encoding="utf-8")
        (tools / name).chmod(0o755)
    venv_bin = project / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").write_text(RECORDER, encoding="utf-8")
    (venv_bin / "python").chmod(0o755)
    record = tmp_path / "record"
    env = {**os.environ, "PATH": f"{tools}:{os.environ['PATH']}", "RECORD": str(record)}
    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        env.pop(name, None)
    result = subprocess.run([need_program("bash"), f"scripts/{script}", *args], cwd=project, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return record.read_text(encoding="utf-8").splitlines()


def installs(lines: list[str]) -> tuple[set[str], list[str]]:
    debian = {word for line in lines if line.startswith("apt-get") and " install " in line for word in line.split()[1:] if not word.startswith("-")}
    pip = [line for line in lines if line.startswith("python -m pip install") and " -e " in line]
    return debian - {"install"}, pip


def test_the_demo_installs_the_tray_extra_and_the_desktop_only(tmp_path):
    lines = run_script(tmp_path, "demo", "--accounts", "3")
    debian, pip = installs(lines)
    assert pip == ["python -m pip install -q -e .[tray]"]
    assert lines[-1] == "python scripts/headless_demo.py --accounts 3"  # then the demo runs
    assert {"gir1.2-ayatanaappindicator3-0.1", "xvfb", "trayer", "dunst", "xclip"} <= debian
    assert not debian & {"chromium", "fish", "zsh", "desktop-file-utils", "xsel", "libnotify-bin", "time"}


def test_the_tests_still_get_everything(tmp_path):
    debian, pip = installs(run_script(tmp_path, "bootstrap"))
    assert pip == ["python -m pip install -q -e .[tray,test]"]
    assert {"chromium", "fish", "desktop-file-utils", "xvfb", "trayer"} <= debian


def test_the_headless_demo_needs_no_test_tools():
    """scripts/headless_demo.py borrows tests/desktop.py, whose conftest imports pytest: it must load
    with pytest (and the other test tools) missing."""
    blocked = ("pytest", "playwright", "hypothesis", "moto", "awscli")
    code = textwrap.dedent(f"""
        import importlib.abc, runpy, sys
        class Missing(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] in {blocked!r}:
                    raise ModuleNotFoundError(name)
        sys.meta_path.insert(0, Missing())
        module = runpy.run_path({str(ROOT / "scripts" / "headless_demo.py")!r}, run_name="not_main")
        assert callable(module["main"]) and module["VirtualDesktop"]
        print("loaded")
        """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout == "loaded\n", result.stderr
