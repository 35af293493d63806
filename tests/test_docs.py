"""The documentation: short README, a config reference that cannot drift, every command run.

Every shell block of README.md and docs/*.md runs here, as written, in a workspace laid out as
the docs assume (:mod:`docs_workspace`), with the tiny-size substitutions of :mod:`docs_shim`
and the placeholder names of ``PLACEHOLDERS`` (both listed in docs/development.md). A block
preceded by ``<!-- not run: REASON -->`` is skipped with that reason. README's blocks run in
the default selection; the others are marked slow (``pytest -m slow tests/test_docs.py``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REPO

SHELL_LANGS = ("bash", "sh", "shell", "console")
TOOLS = ("python", "fastnst", "pip", "pytest", "tensorboard", "mkdocs")
PLACEHOLDERS = {  # documented placeholder -> the workspace's file
    "outputs/<date>/<time>/checkpoints/last.ckpt": "last.ckpt",
    "outputs/.../last.ckpt": "last.ckpt",
    "ckpt=... ": "ckpt=last.ckpt ",
    "<adain run>/checkpoints/last.ckpt": "adain.ckpt",
    "<predicted run>/checkpoints/last.ckpt": "predicted.ckpt",
    "<run>/checkpoints/last.ckpt": "adain.ckpt",
    "<adain>.ckpt": "adain.ckpt",
    "<predicted>.ckpt": "predicted.ckpt",
    "<folder with adain.ckpt>": "outputs/my_models",
    "/path/to/photos": "photos",
    "/path/to/paintings": "paintings",
}
NOT_RUN = re.compile(r"<!--\s*not run:\s*(.+?)\s*-->")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    script: str
    not_run: str | None

    def __str__(self) -> str:
        return f"{self.page}:{self.line}"


def shell_blocks(path: Path) -> list[Block]:
    """The shell blocks of a Markdown page, with the reason if marked not run."""
    text = path.read_text()
    blocks = []
    for match in FENCE.finditer(text):
        lang, body = match.group(1), match.group(2)
        commands = [ln.strip() for ln in body.splitlines() if ln.strip() and not ln.startswith("#")]
        first_tool = commands[0].split()[0] if commands else ""
        is_shell = lang in SHELL_LANGS or (lang == "" and first_tool in TOOLS)
        if not is_shell:
            continue
        before = text[: match.start()].rstrip().splitlines()[-1:] or [""]
        marker = NOT_RUN.search(before[0])
        blocks.append(Block(path.name, text[: match.start()].count("\n") + 1, body,
                            marker.group(1) if marker else None))  # fmt: skip
    return blocks


PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BLOCKS = [block for page in PAGES for block in shell_blocks(page)]


def test_readme_is_short() -> None:
    lines = (REPO / "README.md").read_text().count("\n")
    assert lines <= 200, f"README.md has {lines} lines; depth goes to docs/"


def test_config_reference_is_current() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "config_reference.py"), "--check"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_block_is_found_and_marked_blocks_say_why() -> None:
    readme = [b for b in BLOCKS if b.page == "README.md"]
    assert len(readme) >= 2 and len(BLOCKS) >= 40
    assert all(len(b.not_run) > 10 for b in BLOCKS if b.not_run), "say why a block is not run"


@pytest.fixture(scope="session")
def workspace_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from docs_workspace import build_workspace

    return build_workspace(tmp_path_factory.mktemp("docs_ws"))


@pytest.fixture(scope="session")
def shims(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("shims")
    for tool in TOOLS:
        path = folder / tool
        path.write_text(f'#!/bin/sh\nexec "$DOCS_REAL_PYTHON" "$DOCS_SHIM" {tool} "$@"\n')
        path.chmod(0o755)
    return folder


def run_block(block: Block, workspace: Path, shims: Path) -> subprocess.CompletedProcess:
    script = block.script
    for placeholder, name in PLACEHOLDERS.items():
        script = script.replace(placeholder, name)
    env = {
        **os.environ,
        "PATH": f"{shims}{os.pathsep}{os.environ['PATH']}",
        "DOCS_REAL_PYTHON": sys.executable,
        "DOCS_SHIM": str(REPO / "tests" / "docs_shim.py"),
        "FASTNST_CACHE": str(workspace / ".cache"),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
        "NO_MKDOCS_2_WARNING": "1",
    }
    return subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=workspace, env=env,
                          capture_output=True, text=True, timeout=900)  # fmt: skip


def _params() -> list:
    return [
        pytest.param(b, id=str(b), marks=() if b.page == "README.md" else pytest.mark.slow)
        for b in BLOCKS
    ]


@pytest.mark.parametrize("block", _params())
def test_documented_block_runs(block: Block, workspace_base: Path, shims: Path,
                               tmp_path: Path) -> None:  # fmt: skip
    if block.not_run:
        pytest.skip(f"not run: {block.not_run}")
    root = tmp_path / "ws"
    shutil.copytree(workspace_base.parent, root, symlinks=True)
    result = run_block(block, root / "main", shims)
    assert result.returncode == 0, (
        f"{block} failed (exit {result.returncode}):\n{block.script}\n"
        f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"
    )
