"""Each reference recipe (loss=examples, johnson2016, magenta, gatys2016, tutorial) computes its
reference's objective term for term, and is what each kind of run gets by default."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import CONFIGS
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from reference_recipes import REFERENCES, compare, our_loss

from fastnst.losses.functional import (
    gram_matrix,
    half_squared_error,
    johnson_total_variation,
    style_distance,
)
from fastnst.models.layers import ConditionalInstanceNorm2d

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "reference_equivalence.py"


@pytest.mark.parametrize("recipe", sorted(REFERENCES))
def test_recipe_is_its_reference_term_for_term(recipe: str) -> None:
    """Every weighted term within 1e-5 relative, its pixel gradient at cosine >= 0.99999, at two
    sizes (our Grams and means reduce in fp32: 1e-7 relative is what rounding leaves)."""
    for size in [(32, 40), (48, 56)]:
        rows = compare(recipe, size)
        assert len(rows) >= 5  # content, at least 4 style layers (and TV), total
        for row in rows:
            assert abs(row["ratio"] - 1) <= 1e-5, row
            assert row["cosine"] >= 0.99999, row


def compose_root(root: str, *overrides: str):
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return compose(config_name=root, overrides=list(overrides))


def test_with_imagenet_weights_each_kind_defaults_to_its_reference() -> None:
    train = compose_root("train")
    assert train.vgg.weights == "imagenet" and train.loss.content_layers == {"relu2_2": 1.0}
    assert (train.loss.content_weight, train.loss.style_weight) == (1e5, 1e10)
    assert train.loss.tv_weight == 0 and train.style.size is None  # the painting as it is
    assert train.model.pixel_range == 255  # their 0-255 network
    solver = compose_root("optimize", "content=photo.jpg")
    assert solver.loss.arch == "vgg19" and solver.loss.pooling == "avg"
    assert solver.loss.style_normalization == solver.loss.content_normalization == "gatys"
    magenta = compose_root("train", "experiment=magenta")
    assert magenta.loss.style_normalization == "magenta" and magenta.model.head == "sigmoid"
    assert magenta.vgg.weights == "imagenet_features" and magenta.model.pixel_range == 1
    net = instantiate(magenta.model)  # Magenta's model.py: a CIN after each of the 16 convs
    assert sum(isinstance(m, ConditionalInstanceNorm2d) for m in net.modules()) == 16
    johnson = compose_root("train", "loss=johnson2016")
    assert johnson.vgg.weights == "imagenet_features" and johnson.style.size == 256


@pytest.mark.parametrize(
    ("preset", "loss"),
    [("smoke", "johnson_scalefree"), ("adain_smoke", "adain"), ("predicted_smoke", "adain")],
)
def test_random_vgg_presets_keep_their_scale_free_loss(preset: str, loss: str) -> None:
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", [f"experiment={preset}"], return_hydra_config=True)
    assert cfg.vgg.weights == "random" and cfg.hydra.runtime.choices.loss == loss
    assert cfg.style.size == 512  # loss=examples' painting size did not leak in


def test_variants_inherit_gatys_and_null_drops_a_layer() -> None:
    prerelu = our_loss_from("gatys_prerelu")
    assert list(prerelu.style_layers) == ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"]
    assert prerelu.content_features == "raw" and prerelu.tv_weight == 1.0
    novak = our_loss_from("novak")  # inherited keys first, yet linked shallow to deep
    assert list(novak.style_layers)[:3] == ["relu1_1", "relu1_2", "relu2_1"]
    assert novak.style_layers["relu1_1"] == 0.5 and len(novak.style_links) == 15
    tutorial = our_loss("tutorial", 0)
    assert list(tutorial.content_layers) == ["conv2_2"]


def our_loss_from(name: str):
    cfg = compose_root("train", f"loss={name}", "vgg.weights=random")
    return instantiate(cfg.loss)


def test_reference_normalizations_by_hand() -> None:
    f, g = torch.rand(2, 8, 5, 6), torch.rand(1, 8, 5, 6)
    ours, theirs = gram_matrix(f), gram_matrix(g)

    def gram_hw(t: torch.Tensor) -> torch.Tensor:  # Magenta's F^T F / (H W)
        return t.flatten(2) @ t.flatten(2).transpose(1, 2) / 30

    magenta = ((gram_hw(f) - gram_hw(g)) ** 2).mean(dim=(1, 2)).mean()
    assert style_distance(ours, theirs, "magenta").item() == pytest.approx(magenta.item(), 1e-6)
    assert half_squared_error(f, g).item() == pytest.approx(((f - g) ** 2).sum().item() / 4, 1e-6)
    image = torch.zeros(1, 1, 3, 3)
    image[0, 0, 1, 1] = 1.0  # four unit steps, all from the (H-1) x (W-1) corner: 4 / 2
    assert johnson_total_variation(image).item() == 2.0
    image = torch.zeros(1, 1, 3, 3)
    image[0, 0, 2, 2] = 1.0  # the last row's and column's steps: TotalVariation.lua skips them
    assert johnson_total_variation(image).item() == 0.0


def test_script_prints_the_table_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "equivalence.json"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--sizes", "24x32", "--recipes", "examples", "tutorial",
         "adain", "--output", str(out)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    data = json.loads(out.read_text())
    assert {row["reference"] for row in data["rows"]} == {"examples", "tutorial", "adain"}
    assert data["worst_ratio_error"] <= 1e-5 and data["worst_cosine"] >= 0.99999
    assert "| reference |" in result.stdout and "examples" in result.stdout
