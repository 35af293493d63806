"""End to end: train(cfg) through Hydra's compose API, checkpoints, TensorBoard, resume."""

from __future__ import annotations

from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from fastnst.checkpoint import load_style_checkpoint
from fastnst.train import train


def test_train_writes_checkpoint_and_tensorboard(make_cfg, tmp_path: Path) -> None:
    metrics = train(make_cfg())
    run = tmp_path / "run"
    assert (run / "checkpoints" / "last.ckpt").is_file()
    events = list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert events
    accumulator = EventAccumulator(str(run / "tensorboard")).Reload()
    scalars = set(accumulator.Tags()["scalars"])
    assert {"train/total", "train/content", "train/style", "train/tv"} <= scalars
    assert "train/style_relu1_2" in scalars
    assert "val/total" in scalars
    assert "samples/content_stylized" in accumulator.Tags()["images"]
    assert metrics["train/total"] > 0
    checkpoint = load_style_checkpoint(run / "checkpoints" / "last.ckpt")
    assert checkpoint.global_step == 4
    assert checkpoint.config["data"]["image_size"] == 32
