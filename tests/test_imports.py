"""The layering of the package: no module imports one of a higher layer.

    config, utils  <  ops, datasets  <  models  <  engine  <  visualization  <  tools  (<  tests)

Every `import` and `from ... import` in slowfast/ and tools/ is read with `ast`, at module level and inside
functions, relative imports resolved against the importing module's package. A lower layer that imports a
higher one fails the test with the file, the line and both layers.
"""

import ast
import textwrap
from pathlib import Path

import pytest
from conftest import REPO

# Layer of each part of the repository, lowest first; equal numbers may import each other.
LAYERS = {
    "slowfast.config": 0, "slowfast.utils": 0,
    "slowfast.ops": 1, "slowfast._C": 1, "slowfast.datasets": 1,
    "slowfast.models": 2,
    "slowfast.engine": 3,
    "slowfast.visualization": 4,
    "tools": 5,
    "tests": 6,
}
# The package's own __init__ only names the project; it sits with the lowest layer.
ROOT_PACKAGE = ("slowfast", 0)


def module_name(root: Path, path: Path) -> str:
    """Dotted name of `path` below `root`: slowfast/engine/trainer.py -> slowfast.engine.trainer, tools/x.py ->
    tools.x, a package's __init__.py -> the package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(name: str, root: Path) -> tuple[str, int] | None:
    """(layer name, rank) of the module `name`, None for one outside the repository (stdlib, third party).
    A bare name is a tool (tools put tools/ on sys.path) or a test helper (tests/ on sys.path) when such a file
    exists."""
    if name == ROOT_PACKAGE[0]:
        return ROOT_PACKAGE
    for prefix, rank in LAYERS.items():
        if name == prefix or name.startswith(prefix + "."):
            return prefix, rank
    if name.startswith(ROOT_PACKAGE[0] + "."):
        return name, -1  # a subpackage no layer names: reported by test_every_subpackage_has_a_layer
    top = name.split(".")[0]
    for folder in ("tools", "tests"):
        if (root / folder / f"{top}.py").exists():
            return folder, LAYERS[folder]
    return None


def _is_module(root: Path, name: str) -> bool:
    path = root.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def imported_names(tree: ast.Module, module: str, is_package: bool, root: Path):
    """(line, dotted module name) of every import in `tree`, anywhere in the file. `from X import a` is X.a when
    that is a module of the repository (`from slowfast import engine`), else X."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            source = node.module
            if node.level:
                base = package.split(".")
                source = ".".join(base[: len(base) - (node.level - 1)] + ([node.module] if node.module else []))
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                yield node.lineno, submodule if _is_module(root, submodule) else source


def upward_imports(root: Path) -> list[str]:
    """`file:line: <layer> (rank) imports <module> of <layer> (rank)` for every import of a higher layer in the
    .py files of root/slowfast and root/tools."""
    found = []
    for path in sorted([*(root / "slowfast").rglob("*.py"), *(root / "tools").glob("*.py")]):
        module = module_name(root, path)
        own = layer_of(module, root)
        tree = ast.parse(path.read_text(), str(path))
        for line, name in imported_names(tree, module, path.name == "__init__.py", root):
            other = layer_of(name, root)
            if other is not None and own is not None and other[1] > own[1]:
                found.append(f"{path.relative_to(root)}:{line}: {own[0]} (layer {own[1]}) imports {name} of "
                             f"{other[0]} (layer {other[1]})")
    return list(dict.fromkeys(found))


def test_no_module_imports_a_higher_layer():
    found = upward_imports(REPO)
    assert not found, "imports against the layering " + " < ".join(LAYERS) + ":\n" + "\n".join(found)


def test_every_subpackage_has_a_layer():
    packages = {p.name for p in (REPO / "slowfast").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages, "no subpackages found"
    unmapped = sorted(p for p in packages if layer_of(f"slowfast.{p}", REPO)[1] < 0)
    assert not unmapped, f"slowfast subpackages without a layer in {__file__}: {unmapped}"


def _write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


@pytest.mark.parametrize("relative, text, expected", [
    ("slowfast/utils/bad.py", "import os\nfrom slowfast.engine.trainer import train\n",
     "slowfast/utils/bad.py:2: slowfast.utils (layer 0) imports slowfast.engine.trainer of slowfast.engine (layer 3)"),
    ("slowfast/datasets/bad.py", "def f():\n    from ..models import build_model\n",
     "slowfast/datasets/bad.py:2: slowfast.datasets (layer 1) imports slowfast.models of slowfast.models (layer 2)"),
    ("slowfast/models/__init__.py", "from ..engine import checkpoint\n",
     "slowfast/models/__init__.py:1: slowfast.models (layer 2) imports slowfast.engine of slowfast.engine (layer 3)"),
    ("slowfast/engine/bad.py", "from slowfast import visualization\n",
     "slowfast/engine/bad.py:1: slowfast.engine (layer 3) imports slowfast.visualization of slowfast.visualization "
     "(layer 4)"),
    ("slowfast/config/bad.py", "class A:\n    def m(self):\n        import slowfast.ops.emim as e\n",
     "slowfast/config/bad.py:3: slowfast.config (layer 0) imports slowfast.ops.emim of slowfast.ops (layer 1)"),
    ("slowfast/visualization/bad.py", "import sys\nsys.path.insert(0, 'tools')\nimport predict\n",
     "slowfast/visualization/bad.py:3: slowfast.visualization (layer 4) imports predict of tools (layer 5)"),
    ("tools/bad.py", "from tiny_helper import cfg\n",
     "tools/bad.py:1: tools (layer 5) imports tiny_helper of tests (layer 6)"),
])
def test_a_planted_upward_import_is_reported_with_file_line_and_layers(tmp_path, relative, text, expected):
    clean = {
        "slowfast/__init__.py": "",
        "slowfast/utils/__init__.py": "", "slowfast/datasets/__init__.py": "from slowfast.utils import x\n",
        "slowfast/models/__init__.py": "from . import layers\nfrom ..datasets import y\n",
        "slowfast/models/layers.py": "import torch\nfrom slowfast.ops.emim import emim\n",
        "slowfast/engine/__init__.py": "", "slowfast/engine/trainer.py": "from ..models import layers\n",
        "slowfast/visualization/__init__.py": "from slowfast.engine import trainer\n",
        "slowfast/config/__init__.py": "", "slowfast/ops/__init__.py": "", "slowfast/ops/emim.py": "",
        "tools/predict.py": "from slowfast.visualization import draw\nimport bench\n", "tools/bench.py": "",
        "tests/tiny_helper.py": "",
    }
    _write(tmp_path, clean)
    assert upward_imports(tmp_path) == []  # downward and same-layer imports pass
    _write(tmp_path, {relative: text})
    assert upward_imports(tmp_path) == [expected]
