"""The fences that keep the package's architecture honest.

Only the composition root (``fastnst.app``) may import Hydra or OmegaConf, so every other wing
takes plain arguments and can be used as a library. The inference entry must stay light: a
``Stylizer`` needs PyTorch, not Lightning, Hydra or the VGG loss network; the package face
(``import fastnst``) imports nothing heavy at all.
"""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest
from conftest import REPO

PACKAGE = REPO / "src" / "fastnst"
COMPOSITION_ROOT = PACKAGE / "app"
CONFIG_LIBRARIES = ("hydra", "omegaconf")
HEAVY_FOR_INFERENCE = ("pytorch_lightning", "lightning", "hydra", "omegaconf", "fastnst.vgg")


def imported_modules(source: str) -> set[str]:
    """Top-level names of every module ``source`` imports, wherever the import statement is."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_imported_modules_sees_every_form() -> None:
    source = (
        "import hydra.utils as hu\n"
        "from omegaconf import DictConfig\n"
        "from . import sibling\n"
        "def late():\n"
        "    import pytorch_lightning\n"
        "    from torch.nn import functional\n"
    )
    assert imported_modules(source) == {"hydra", "omegaconf", "pytorch_lightning", "torch"}


def test_only_the_composition_root_imports_hydra_or_omegaconf() -> None:
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 20  # the walk really sees the package
    offenders = [
        f"{path.relative_to(REPO)} imports {name}"
        for path in modules
        if not path.is_relative_to(COMPOSITION_ROOT)
        for name in sorted(imported_modules(path.read_text()) & set(CONFIG_LIBRARIES))
    ]
    assert offenders == []


def loaded_after(code: str, watched: tuple[str, ...]) -> list[str]:
    """The modules of ``watched`` present in ``sys.modules`` after a fresh Python runs ``code``."""
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {watched!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


@pytest.mark.parametrize("code", ["import fastnst.inference", "import fastnst; fastnst.Stylizer"])
def test_inference_imports_no_lightning_hydra_or_vgg(code: str) -> None:
    assert loaded_after(code, HEAVY_FOR_INFERENCE + ("torch",)) == ["torch"]  # probe works


def test_package_face_imports_nothing_heavy() -> None:
    heavy = ("torch", "torchvision", "numpy", "PIL", *HEAVY_FOR_INFERENCE)
    assert loaded_after("import fastnst; fastnst.__version__, fastnst.FastNSTError", heavy) == []


DEMO = PACKAGE / "demo"
FORBIDDEN_FOR_DEMO = (
    "fastnst.training", "fastnst.solver", "fastnst.app", "hydra", "omegaconf",
    "pytorch_lightning", "lightning",
)  # fmt: skip


def imported_names(source: str) -> set[str]:
    """Full dotted names of every module ``source`` imports (absolute imports)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_demo_imports_only_inference_models_and_the_core() -> None:
    modules = sorted(DEMO.rglob("*.py"))
    assert len(modules) >= 5  # the walk really sees the demo package
    offenders = [
        f"{path.relative_to(REPO)} imports {name}"
        for path in modules
        for name in sorted(imported_names(path.read_text()))
        if name.startswith(FORBIDDEN_FOR_DEMO) or name.split(".")[0] in ("hydra", "omegaconf")
    ]
    assert offenders == []
    assert "fastnst.inference" in imported_names((DEMO / "catalog.py").read_text())  # probe


def test_demo_server_loads_no_training_solver_app_or_lightning() -> None:
    pytest.importorskip("starlette")
    watched = (*FORBIDDEN_FOR_DEMO, "fastnst.vgg", "fastnst.demo.server")
    assert loaded_after("import fastnst.demo.server", watched) == ["fastnst.demo.server"]
