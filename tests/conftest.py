"""Shared fixtures: synthetic images, the dev data in ../shared/data, composed configs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """FASTNST_CACHE (exported ONNX models, downloads) in a temporary folder for the whole
    session, so tests never write to the user's ~/.cache; modules may set their own."""
    cache = tmp_path_factory.mktemp("fastnst_cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FASTNST_CACHE", str(cache))
        yield cache


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data`` beside the checkout; the test is skipped when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent")
    return SHARED_DATA


def write_images(
    folder: Path, count: int, size: tuple[int, int] = (48, 40), seed: int = 0
) -> list[Path]:
    """``count`` smooth random RGB PNGs of ``size`` (W, H) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(seed)
    paths = []
    for index in range(count):
        low = torch.rand(3, 4, 4, generator=generator)
        image = torch.nn.functional.interpolate(low[None], size=size[::-1], mode="bilinear")[0]
        array = (image.permute(1, 2, 0) * 255).round().byte().numpy()
        path = folder / f"img_{index:03d}.png"
        Image.fromarray(array).save(path)
        paths.append(path)
    return paths


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """A folder of 6 small synthetic training images."""
    folder = tmp_path / "images"
    write_images(folder, 6)
    return folder


@pytest.fixture
def style_image(tmp_path: Path) -> Path:
    """A small synthetic striped 'painting'."""
    x = torch.linspace(0, 12.0, 64)
    stripes = (torch.sin(x[None, :] + x[:, None] * 0.5) + 1) / 2  # (64, 64)
    array = torch.stack([stripes, 1 - stripes, stripes * 0.5], dim=-1)
    path = tmp_path / "style.png"
    Image.fromarray((array * 255).round().byte().numpy()).save(path)
    return path


@pytest.fixture
def make_cfg(tmp_path: Path, image_folder: Path, style_image: Path) -> Callable[..., DictConfig]:
    """Compose the real ``train.yaml`` shrunk to seconds on a CPU, plus extra overrides."""

    def make(*overrides: str) -> DictConfig:
        base = [
            "trainer=cpu",
            "data=folder",
            f"data.root={image_folder}",
            "data.image_size=32",
            "data.batch_size=2",
            "data.num_workers=0",
            "data.val_images=2",
            f"style.image={style_image}",
            "style.size=64",
            "vgg.weights=random",
            f"paths.output_dir={tmp_path / 'run'}",
            f"paths.cache_dir={tmp_path / 'cache'}",
            "trainer.max_steps=4",
            "trainer.val_check_interval=2",
            "trainer.log_every_n_steps=1",
            "+trainer.enable_model_summary=false",
            "samples.every_n_steps=2",
            "samples.count=2",
        ]
        with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
            return compose(config_name="train", overrides=[*base, *overrides])

    return make
