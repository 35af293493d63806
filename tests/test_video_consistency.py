"""scripts/video_consistency.py's run: rows, floor, flow blending, files; and reading clips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CONFIGS
from hydra import compose, initialize_config_dir
from PIL import Image
from test_flow import texture

from fastnst.app.train import train
from fastnst.errors import FastNSTError
from fastnst.flow.synthetic import camera_clip
from fastnst.io.clip import read_clip
from fastnst.io.image import save_image

pytest.importorskip("cv2")


def frame_folder(folder: Path, frames: int = 5) -> Path:
    clip, _ = camera_clip(texture(97, 121, seed=6, cells=14), frames, (40, 56), shift=(1.5, 0.5))
    for t, frame in enumerate(clip):
        save_image(frame[None], folder / f"frame_{t:04d}.png")
    return folder


def test_read_clip_reads_folders_and_videos(tmp_path: Path) -> None:
    folder = frame_folder(tmp_path / "frames")
    clip = read_clip(folder, frames=3, size=20)
    assert clip.shape == (3, 3, 20, 28) and clip.min() >= 0 and clip.max() <= 1
    pytest.importorskip("av")
    from test_video import write_video

    write_video(tmp_path / "clip.mp4", frames=7)
    assert read_clip(tmp_path / "clip.mp4").shape == (7, 3, 48, 64)
    assert read_clip(tmp_path / "clip.mp4", frames=4, size=24).shape == (4, 3, 24, 32)
    with pytest.raises(FastNSTError, match="a clip needs at least 2"):
        read_clip(folder, frames=1)
    with pytest.raises(FastNSTError, match="clip not found"):
        read_clip(tmp_path / "missing.mp4")


def test_video_consistency_scores_every_variant_against_one_flow(make_cfg, tmp_path: Path) -> None:
    from fastnst.app.video_consistency import run_video_consistency

    # a network in [0, 1] units: four steps of the 0-255 default still output about 0, flat
    train(make_cfg("loss=johnson", "model.pixel_range=1"))
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    folder = frame_folder(tmp_path / "frames")
    overrides = [f"input={folder}", f"ckpts={{per_frame: {ckpt}, again: {ckpt}}}",
                 "flow_blend=[per_frame]", "size=null", f"output_dir={tmp_path / 'report'}",
                 f"paths.cache_dir={tmp_path / 'cache'}", "device=cpu"]  # fmt: skip
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(config_name="video_consistency", overrides=overrides)
    paths = run_video_consistency(cfg)
    report = json.loads(paths["json"].read_text())
    rows = {row["variant"]: row for row in report["rows"]}
    assert list(rows) == ["input (floor)", "per_frame", "per_frame + flow_blend", "again"]
    assert report["frames"] == 5 and report["size"] == [40, 56]
    floor, plain = rows["input (floor)"], rows["per_frame"]
    assert floor["warping_error"] < plain["warping_error"]
    assert rows["per_frame + flow_blend"]["warping_error"] < plain["warping_error"]
    assert rows["again"]["warping_error"] == pytest.approx(plain["warping_error"])
    assert rows["again"]["style_vs_first"] == pytest.approx(0.0, abs=1e-6)
    assert plain["style"] > 0 and plain["content"] > 0 and plain["ms_per_frame"] > 0
    assert rows["per_frame + flow_blend"]["flow_blend_ms_per_frame"] > 0
    with Image.open(paths["strip"]) as strip:  # 4 columns, 3 rows of 120 px plus labels
        assert strip.height > 3 * 120 and strip.width > 4 * 120 * 56 / 40
    with Image.open(paths["clip"]) as clip:  # every frame, the 4 rows side by side at 40 px
        assert clip.n_frames == 5 and clip.width > 4 * 56 and clip.height > 40
        clip.seek(4)
        assert abs(clip.info["duration"] - 1000 / 12) <= 10  # GIF stores centiseconds
    table = paths["md"].read_text()
    assert "| per_frame + flow_blend |" in table and "warping error" in table
    with pytest.raises(FastNSTError, match="overwrite=true"):
        run_video_consistency(cfg)
