"""fastnst as users get it: a regular (non-editable) install into a fresh virtual environment.

The venv sees the system's site-packages, so torch and friends are not downloaded again, but
fastnst itself (code and the ``fastnst.configs`` package data) must come from the install: every
command runs from an empty folder, far from the checkout's ``configs/``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, write_images
from PIL import Image

pytestmark = pytest.mark.slow


def _copy_checkout(dest: Path) -> Path:
    """The files a build reads, copied so the build leaves nothing in the shared checkout."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("src", "configs"):
        shutil.copytree(REPO / name, dest / name, ignore=ignore)
    return dest


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv (system site-packages visible) with fastnst installed from a copy of the checkout."""
    root = tmp_path_factory.mktemp("install")
    source = _copy_checkout(root / "source")
    env_dir = root / "venv"
    # --without-pip: ensurepip would also put an old setuptools into the venv, shadowing the
    # system's; this pip installs into the venv through --python instead.
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(env_dir)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    python = env_dir / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
         "--no-build-isolation", "--ignore-installed", str(source)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    shutil.rmtree(source)  # the installed copy must stand alone
    return env_dir


def _run(venv: Path, cwd: Path, *command: str) -> subprocess.CompletedProcess[str]:
    """Run ``command`` with the venv's ``bin`` first on PATH, as an activated venv would."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    env["VIRTUAL_ENV"] = str(venv)
    env["FASTNST_CACHE"] = str(cwd / "cache")
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty folder to run commands from: no configs/, no train.py, no src/."""
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def test_installed_package_is_the_regular_install(venv: Path, workdir: Path) -> None:
    code = (
        "import fastnst, fastnst.configs; print(fastnst.__file__); print(fastnst.configs.__file__)"
    )
    lines = _run(venv, workdir, "python", "-c", code).stdout.split()
    for path in lines:
        assert Path(path).resolve().is_relative_to(venv.resolve()), path
    installed = Path(lines[1]).parent
    assert (installed / "train.yaml").is_file()
    assert (installed / "style" / "starry_night.yaml").is_file()


def test_help_from_the_console_script_and_python_m(venv: Path, workdir: Path) -> None:
    assert shutil.which("fastnst", path=str(venv / "bin")) is not None
    for command in (["fastnst", "--help"], ["python", "-m", "fastnst", "--help"]):
        out = _run(venv, workdir, *command).stdout
        assert out.startswith("usage: fastnst {train,stylize,optimize,compare,ablate}")
        assert "stylize" in out
    stylize_help = _run(venv, workdir, "fastnst", "stylize", "--help").stdout
    assert "--output" in stylize_help


def test_train_then_stylize_from_an_empty_folder(venv: Path, workdir: Path, tmp_path: Path) -> None:
    images = tmp_path / "images"
    write_images(images, 6)
    Image.new("RGB", (64, 48), (200, 40, 30)).save(tmp_path / "style.png")
    run_dir = tmp_path / "run"
    _run(
        venv, workdir, "fastnst", "train", "trainer=cpu", "data=folder", f"data.root={images}",
        "data.image_size=32", "data.batch_size=2", "data.num_workers=0", "data.val_images=2",
        f"style.image={tmp_path / 'style.png'}", "style.size=64", "vgg.weights=random",
        "model=johnson_small", "trainer.max_steps=5", "trainer.val_check_interval=5",
        "samples.every_n_steps=5", "samples.count=2",
        f"hydra.run.dir={run_dir}",
    )  # fmt: skip
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    assert ckpt.is_file()
    assert sorted(os.listdir(workdir)) == []  # everything went to hydra.run.dir

    photo = workdir / "IMG 1 (copy).png"
    Image.new("RGB", (40, 30), (10, 120, 220)).save(photo)
    _run(venv, workdir, "fastnst", "stylize", str(ckpt), photo.name, "-o", "out.png",
         "--device", "cpu", "--no-progress")  # fmt: skip
    with Image.open(workdir / "out.png") as out:
        assert out.size == (40, 30)
