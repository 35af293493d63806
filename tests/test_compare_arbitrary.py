"""scripts/compare_arbitrary.py end to end on tiny synthetic data: every method, every measure."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch
from conftest import REPO, write_images
from PIL import Image

from fastnst.models.adain import AdaINNet
from fastnst.models.checkpoint import CHECKPOINT_KEY, PREFIX, checkpoint_entry
from fastnst.models.predicted import PredictedStyleNet

SCRIPT = REPO / "scripts" / "compare_arbitrary.py"
MEASURES = {
    "adain_loss": ("total", "content", "style"),
    "gram_loss": ("total", "content", "style", "tv"),
    "quality": ("color_swd", "texture_swd", "ssim", "edge_ssim"),
}


def load_script():
    spec = importlib.util.spec_from_file_location("compare_arbitrary", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def save_checkpoint(path: Path, model: torch.nn.Module, config: dict) -> Path:
    """``model`` on a seeded random VGG-19 encoder as a train.py checkpoint."""
    model.encoder.load_vgg("random", seed=3)
    state = {PREFIX + key: value for key, value in model.state_dict().items()}
    entry = checkpoint_entry(model, ["arbitrary"], config)
    torch.save({"state_dict": state, CHECKPOINT_KEY: entry, "global_step": 7}, path)
    return path


def finite_numbers(value) -> list[float]:
    if isinstance(value, dict):
        return [v for item in value.values() for v in finite_numbers(item)]
    if isinstance(value, list):
        return [v for item in value for v in finite_numbers(item)]
    return [value] if isinstance(value, float) else []


@pytest.mark.slow
def test_every_method_gets_every_measure(tmp_path: Path) -> None:
    torch.manual_seed(0)
    styles = write_images(tmp_path / "styles_train", 4, size=(40, 36), seed=5)
    photos = tmp_path / "photos"
    write_images(photos, 2, size=(40, 36), seed=1)
    unseen = write_images(tmp_path / "unseen", 1, size=(36, 40), seed=9)[0]
    unseen = unseen.rename(unseen.with_name("unseen.png"))
    train_photos = tmp_path / "train"
    write_images(train_photos, 4, size=(40, 36), seed=2)
    config = {"data": {"style_root": str(tmp_path / "styles_train"), "val_styles": 2}, "seed": 0}
    adain = save_checkpoint(tmp_path / "adain.ckpt", AdaINNet(), config)
    predicted = save_checkpoint(tmp_path / "predicted.ckpt", PredictedStyleNet(), {})
    out = tmp_path / "out"
    argv = [
        "--ckpt", f"adain={adain}", "--ckpt", f"predicted={predicted}",
        "--photos", str(photos), "--num-photos", "2", "--held-out", "1",
        "--paintings", str(unseen), "--size", "32",
        "--per-style-steps", "2", "--per-style-batch", "2", "--per-style-data", str(train_photos),
        "--per-style-override", "model.width=4", "--per-style-override",
        "model.num_residual_blocks=1", "--solver-steps", "2", "--repeats", "1",
        "--grid-height", "32", "--out", str(out),
    ]  # fmt: skip
    script = load_script()
    report = script.main(argv)

    written = json.loads((out / "compare_arbitrary.json").read_text())
    assert written["methods"] == ["adain", "predicted", "per_style", "solver"]
    assert "favours the arbitrary models" in written["yardstick"]
    # one painting of the run's held-out split, one given file (labelled by that split)
    assert [p["set"] for p in written["paintings"]] == ["held_out", "unseen"]
    assert written["paintings"][0]["path"] in map(str, styles)
    assert len(written["results"]) == 2
    for per_method in written["results"].values():
        for method in [*written["methods"], "photo"]:
            result = per_method[method]
            for measure, keys in MEASURES.items():
                for key in keys:
                    assert math.isfinite(result[measure][key]), (method, measure, key)
            assert math.isfinite(result["seconds_per_image"])
        assert per_method["solver"]["seconds_per_image"] > 0
        assert per_method["per_style"]["training"]["steps"] == 2
    numbers = finite_numbers(written["results"]) + finite_numbers(written["mean"])
    assert numbers and all(math.isfinite(v) for v in numbers)
    assert set(written["mean"]) == {"adain", "predicted", "per_style", "solver", "photo"}
    assert written["checkpoints"]["predicted"]["encoder_equals_yardstick"] is True
    # the photo is its own perfect structure reference
    photo = next(iter(written["results"].values()))["photo"]
    assert photo["quality"]["ssim"] == pytest.approx(1.0, abs=1e-4)
    grid = Image.open(out / "compare_arbitrary_grid.png")
    assert grid.height > 2 * 2 * 32  # 2 paintings x 2 photos, plus header and caption
    assert (out / "compare_arbitrary.md").read_text().count("| solver |") == 3
    assert report["mean"].keys() == written["mean"].keys()

    # a rerun reuses the per-style networks and the solver's images, and gives the same numbers
    again = script.main([*argv, "--tag", "again"])
    for name, result in again["results"].items():
        assert result["per_style"]["training"]["cached"] and result["solver"]["cached"]
        for method in ("per_style", "solver"):
            assert result[method]["adain_loss"] == written["results"][name][method]["adain_loss"]
    assert (out / "again.json").is_file() and (out / "again_grid.png").is_file()
