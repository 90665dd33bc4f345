"""The rooms of the house (tray/core/__init__.py, docs/ARCHITECTURE.md): imports point down, never up.

Read from the source, every import counted (those inside functions too), so a lazy import cannot hide a
door that runs the wrong way.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tray"

# lowest first: a room may import itself and the rooms before it
LAYERS = [
    ("tray.core.errors", "tray.core.credentials", "tray.core.naming"),
    ("tray.core.files",),
    ("tray.core.osutil",),
    ("tray.core.identity",),
    ("tray.core.outlets",),
    ("tray.core.engine",),
    ("tray.ui",),
    ("tray.cli",),
]
ISOLATED = "tray.simulator"  # imports nothing of sso-tray, and nothing imports it but the cli and tests
TOP_LEVEL = {"tray", "tray.__main__"}

MAX_MODULES_PER_PACKAGE = 15
MAX_LINES_PER_MODULE = 600


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, text: str | None = None) -> list[tuple[int, str]]:
    """(line, absolute module) for every import in the file (or in `text`, as if it were that file)."""
    tree = ast.parse(path.read_text(encoding="utf-8") if text is None else text, filename=str(path))
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.append((node.lineno, base))
            # `from tray.core import files` imports the room `files`
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return [(line, name) for line, name in found if name == "tray" or name.startswith("tray.")]


def layer_of(name: str) -> int | None:
    for i, rooms in enumerate(LAYERS):
        if any(name == room or name.startswith(room + ".") for room in rooms):
            return i
    return None


def sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_module_belongs_to_a_room():
    loose = [module_name(p) for p in sources()
             if layer_of(module_name(p)) is None and not module_name(p).startswith(ISOLATED) and module_name(p) not in TOP_LEVEL
             and module_name(p) != "tray.core"]
    assert loose == [], f"modules in no room (add them to a room, and to LAYERS here): {loose}"


def test_imports_point_down():
    wrong = []
    for path in sources():
        here = module_name(path)
        mine = layer_of(here)
        for line, name in imports_of(path):
            if here.startswith(ISOLATED):
                if not name.startswith(ISOLATED):
                    wrong.append(f"{path.relative_to(ROOT)}:{line}: the simulator imports {name}")
                continue
            if name.startswith(ISOLATED):
                if mine != layer_of("tray.cli"):
                    wrong.append(f"{path.relative_to(ROOT)}:{line}: only the command line starts the simulator, not {here}")
                continue
            theirs = layer_of(name)
            if mine is None or theirs is None:
                continue  # tray itself (its version), the core package's docstring
            if theirs > mine:
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {here} imports {name}, a room above it")
    assert wrong == [], "\n".join(wrong)


def test_the_check_catches_an_upward_import():
    """The test above can fail: a lower room that imports a higher one is reported."""
    fake = PACKAGE / "core" / "files" / "_upward_probe.py"
    for text in ("from tray.core.engine.engine import Engine\n", "from tray.core import engine\n",
                 "def later():\n    from tray.ui import menu\n", "from ..engine import state\n"):
        names = [name for _line, name in imports_of(fake, text)]
        assert any((layer_of(name) or 0) > layer_of(module_name(fake)) for name in names), text
    names = [name for _line, name in imports_of(fake, "from tray.core.files import paths\nfrom tray.core import errors\n")]
    assert all((layer_of(name) or 0) <= layer_of(module_name(fake)) for name in names)


@pytest.mark.parametrize("package", sorted({p.parent for p in PACKAGE.rglob("__init__.py")}), ids=lambda p: str(p.relative_to(ROOT)))
def test_rooms_stay_small_and_say_what_they_hold(package):
    modules = [p for p in package.glob("*.py") if p.name != "__init__.py"]
    assert len(modules) <= MAX_MODULES_PER_PACKAGE, f"{package.relative_to(ROOT)} has {len(modules)} modules"
    init = package / "__init__.py"
    assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), f"{init.relative_to(ROOT)} says nothing of what lives there"
    for module in modules:
        lines = len(module.read_text(encoding="utf-8").splitlines())
        assert lines <= MAX_LINES_PER_MODULE, f"{module.relative_to(ROOT)} has {lines} lines"
