"""core is the bottom floor: nothing under core/ imports the apps built on it."""

from __future__ import annotations

import ast
from pathlib import Path

import core

UPPER_APPS = ("usage", "apps_analytics")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):  # every import, also those inside functions
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_nothing_under_core_imports_usage_or_apps_analytics():
    files = sorted(Path(core.__file__).parent.rglob("*.py"))
    assert len(files) > 20  # the walk sees the package (models, api, commands, migrations...)
    upward = {
        f"{path.relative_to(Path(core.__file__).parent.parent)}: {name}"
        for path in files
        for name in imported_modules(path)
        if name.split(".")[0] in UPPER_APPS
    }
    assert upward == set()


def test_the_walk_would_see_an_upward_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from usage.models import Device\nimport apps_analytics.reporting\n")
    assert imported_modules(module) == {"usage.models", "apps_analytics.reporting"}
