"""The architecture holds: imports point one way, with no function-local import left to break
a cycle (DESIGN.md, sections 1 and 4).

The layers are the import-linter contract in ``pyproject.toml`` (``[tool.importlinter]``);
``lint-imports`` checks every import, function-local ones included.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_import_layers_contract_is_kept() -> None:
    exe = Path(sys.executable).with_name("lint-imports")
    cmd = str(exe) if exe.exists() else shutil.which("lint-imports")
    assert cmd, "import-linter is a test dependency (pip install -e '.[test]')"
    out = subprocess.run([cmd], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 kept, 0 broken" in out.stdout


#: the one function-local import, and why it cannot be at the top: ``ChoiceData.from_dask``
#: returns a ``DaskChoiceData``, a subclass of ChoiceData defined in ``data/dask.py`` (which
#: therefore imports ``data/choicedata.py``); the public contract names the constructor on
#: ChoiceData (DESIGN.md, section 3)
ALLOWED = {("choicekit/data/choicedata.py", "from_dask")}


def test_no_function_local_imports_of_choicekit() -> None:
    """Every choicekit import is at module level (type-only imports under TYPE_CHECKING), so
    the layering above is visible at the top of each module."""
    found = []
    for path in sorted((REPO / "choicekit").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                local = (isinstance(node, ast.ImportFrom)
                         and ((node.module or "").startswith("choicekit") or node.level > 0)) \
                    or (isinstance(node, ast.Import)
                        and any(a.name.startswith("choicekit") for a in node.names))
                if local and (path.relative_to(REPO).as_posix(), fn.name) not in ALLOWED:
                    found.append(f"{path.relative_to(REPO)}:{node.lineno} in {fn.name}()")
    assert not found, "function-local imports:\n" + "\n".join(found)
