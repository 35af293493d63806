"""``temporal=flow``: frame pairs of real video with DIS flow and occlusion masks, the loss on
networks with known behaviour, the config, and a tiny fine-tuning run that flickers less."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from test_flow import texture
from test_temporal import Net, _Add, compose_train, network_warping_error
from torch import Tensor, nn

from fastnst.app.builders import build_temporal
from fastnst.app.schemas import check_config
from fastnst.app.train import train
from fastnst.errors import FastNSTError
from fastnst.flow import frame_pairs
from fastnst.flow.frame_pairs import FramePairs
from fastnst.flow.synthetic import camera_clip
from fastnst.losses.temporal import FlowTemporalLoss

pytest.importorskip("cv2")

SHIFT = (2.0, 1.0)  # camera move per frame, px: the content moves by -SHIFT


def clip(
    frames: int = 6, size: int = 48, seed: int = 3, shift: tuple = SHIFT, zoom: float = 1.0
) -> Tensor:
    """A still texture filmed by a camera panning ``shift`` px per frame, (T, 3, size, size)."""
    big = texture(size + 24, size + 24, seed=seed, cells=10) * 0.8 + 0.1
    shots, _ = camera_clip(big, frames, (size, size), shift=shift, zoom=zoom)
    return shots


def write_folder(folder: Path, shots: Tensor) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for t, shot in enumerate(shots):
        array = (shot.permute(1, 2, 0) * 255).round().byte().numpy()
        Image.fromarray(array).save(folder / f"frame_{t:04d}.png")
    return folder


def write_video(path: Path, shots: Tensor) -> Path:
    av = pytest.importorskip("av")
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.height, stream.width = shots.shape[-2:]
        stream.pix_fmt, stream.options = "yuv444p", {"crf": "0"}
        for shot in shots:
            array = np.ascontiguousarray((shot.permute(1, 2, 0) * 255).round().byte().numpy())
            container.mux(stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")))
        container.mux(stream.encode())
    return path


@pytest.fixture
def frame_folder(tmp_path: Path) -> Path:
    return write_folder(tmp_path / "frames", clip())


def test_pairs_of_a_folder_are_aligned_with_their_flow_and_mask(frame_folder: Path) -> None:
    pairs = FramePairs(str(frame_folder), size=48)
    assert len(pairs) == 5 and pairs.skipped == 0
    shots = clip()
    for i in range(len(pairs)):
        a, b, flow, mask = pairs[i]
        assert a.shape == b.shape == (3, 48, 48) and a.dtype == torch.float32
        assert flow.shape == (2, 48, 48) and mask.shape == (1, 48, 48) and mask.dtype == torch.bool
        assert (a - shots[i]).abs().max() < 1 / 255 + 1e-6  # pair i is frames i and i + 1
        assert (b - shots[i + 1]).abs().max() < 1 / 255 + 1e-6
        assert 0.5 < mask.float().mean() < 1.0  # the strip entering the frame is not reliable
        reliable = flow[:, mask[0]]  # DIS finds the pan: a(p) ~ b(p + flow(p)), flow = -SHIFT
        assert reliable.median(dim=1).values.tolist() == pytest.approx([-2.0, -1.0], abs=0.25)


def test_sample_crops_pairs_into_a_batch(frame_folder: Path) -> None:
    pairs = FramePairs([str(frame_folder), str(frame_folder)], size=40)
    assert len(pairs) == 10
    a, b, flow, mask = pairs.sample(3, crop=32, generator=torch.Generator().manual_seed(0))
    assert a.shape == b.shape == (3, 3, 32, 32)
    assert flow.shape == (3, 2, 32, 32) and mask.shape == (3, 1, 32, 32)
    assert mask.dtype == torch.bool and mask.any()
    # pixels whose flow leaves the crop are masked out
    xs = torch.arange(32).view(1, 1, 32) + flow[:, 0]
    assert not (mask[:, 0] & (xs < 0)).any()
    assert pairs.sample(2, crop=None)[0].shape == (2, 3, 40, 40)  # the short side


def test_a_video_file_with_a_frame_range(tmp_path: Path) -> None:
    video = write_video(tmp_path / "clip.mp4", clip(frames=8, size=64))
    pairs = FramePairs(str(video), size=32, start=2, stop=7)  # frames 2..6: 4 pairs
    assert len(pairs) == 4
    a, b, flow, mask = pairs[0]
    assert a.shape == (3, 32, 32) and flow.shape == (2, 32, 32) and mask.shape == (1, 32, 32)
    assert (a - nn.functional.interpolate(clip(8, 64)[2:3], size=32, mode="bilinear",
                                          antialias=True)[0]).abs().mean() < 0.02  # fmt: skip


def test_a_corrupt_frame_is_skipped_counted_and_never_paired(frame_folder: Path) -> None:
    (frame_folder / "frame_0003.png").write_bytes(b"not a png")
    pairs = FramePairs(str(frame_folder), size=48)
    assert pairs.skipped == 1
    assert len(pairs) == 3  # frames 0-1, 1-2 and 4-5: not 2-4 across the gap
    shots = clip()
    a, b, _, _ = pairs[2]
    assert (a - shots[4]).abs().max() < 0.01 and (b - shots[5]).abs().max() < 0.01


def test_flows_are_cached_by_clip_and_size(frame_folder: Path, tmp_path: Path, monkeypatch):
    cache = tmp_path / "cache"
    first = FramePairs(str(frame_folder), size=48, cache_dir=cache)
    assert len(list(cache.glob("*.pt"))) == 1

    def fail(*args, **kwargs):
        raise AssertionError("recomputed despite the cache")

    monkeypatch.setattr(frame_pairs, "_compute", fail)
    again = FramePairs(str(frame_folder), size=48, cache_dir=cache)
    assert torch.equal(again[1][2], first[1][2]) and torch.equal(again[1][3], first[1][3])
    with pytest.raises(AssertionError, match="recomputed"):  # another size is another key
        FramePairs(str(frame_folder), size=40, cache_dir=cache)


def test_loss_is_zero_for_networks_that_commute_with_the_motion(frame_folder: Path) -> None:
    torch.manual_seed(0)
    loss = FlowTemporalLoss(frames=str(frame_folder), size=48, crop=40, pairs_per_step=4)
    content = torch.rand(2, 3, 40, 40)
    identity = Net(nn.Identity())
    assert float(loss(identity, content, content)) < 2e-4  # the flow's own error only
    pointwise = Net(nn.Conv2d(3, 3, 1))
    with torch.no_grad():
        assert float(loss(pointwise, content, content)) < 2e-4
    pattern = torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(2))
    glued = Net(_Add(pattern))  # a texture glued to the screen: it does not move with the clip
    assert float(loss(glued, content, content)) > 0.05


class StyleRecorder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.styles: list[Tensor | None] = []

    def forward(self, x: Tensor, style: Tensor | None = None) -> Tensor:
        self.styles.append(style)
        return x


def test_loss_draws_its_own_batch_and_passes_the_styles_on(frame_folder: Path) -> None:
    loss = FlowTemporalLoss(frames=str(frame_folder), size=48, pairs_per_step=3)
    net = StyleRecorder()
    value = loss(net, torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16), torch.tensor([4, 7]))
    assert value.ndim == 0 and torch.isfinite(value)
    assert net.styles[-1].tolist() == [4, 7, 4, 4, 7, 4]  # 3 pairs, both frames of each
    loss.pairs_per_step = None  # default: the content batch size
    weights = torch.tensor([[1.0, 0.0], [0.5, 0.5]])  # style weights of a multi-style net
    loss(net, torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16), weights)
    assert torch.equal(net.styles[-1], torch.cat([weights, weights]))
    loss(net, torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16))
    assert net.styles[-1] is None


def test_the_config_builds_at_the_training_size(frame_folder: Path, tmp_path: Path) -> None:
    cfg = compose_train("temporal=flow", f"temporal.frames={frame_folder}",
                        "data.image_size=32", f"paths.cache_dir={tmp_path / 'c'}")  # fmt: skip
    check_config(cfg, "train")
    built = build_temporal(cfg)
    assert isinstance(built, FlowTemporalLoss) and built.weight == 30.0
    assert built.pairs.size == 32 and built.crop == 32 and len(built.pairs) == 5
    assert list((tmp_path / "c" / "frame_pairs").glob("*.pt"))
    listed = compose_train("temporal=flow", f"temporal.frames=[{frame_folder},{frame_folder}]",
                           "temporal.cache_dir=null")  # fmt: skip
    assert len(build_temporal(listed).pairs) == 10


def test_bad_flow_settings_are_one_line_errors(
    frame_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def error(*overrides: str) -> str:
        with pytest.raises(FastNSTError) as caught:
            build_temporal(compose_train("temporal=flow", "temporal.cache_dir=null", *overrides))
        assert "\n" not in str(caught.value)
        return str(caught.value)

    assert "needs temporal.frames=<a video file, a folder of frames" in error()
    missing = error(f"temporal.frames={tmp_path / 'nothing.mp4'}")
    assert "temporal.frames" in missing and "not found" in missing
    (tmp_path / "bad.mp4").write_bytes(b"\x00" * 100)
    assert "temporal.frames: cannot read video" in error(f"temporal.frames={tmp_path / 'bad.mp4'}")
    (tmp_path / "one").mkdir()
    write_folder(tmp_path / "one", clip(frames=2)[:1])
    assert "no two consecutive readable frames" in error(f"temporal.frames={tmp_path / 'one'}")
    assert "pairs_per_step=0" in error(
        f"temporal.frames={frame_folder}", "temporal.pairs_per_step=0"
    )
    monkeypatch.setitem(sys.modules, "cv2", None)  # OpenCV not installed
    no_cv = error(f"temporal.frames={frame_folder}")
    assert "temporal=flow" in no_cv and "pip install 'fastnst[video]'" in no_cv


@pytest.mark.slow  # two 30-step training runs: 20-35 s, 160 s when the CPU is shared
def test_flow_fine_tuning_lowers_the_warping_error(make_cfg, tmp_path: Path) -> None:
    # training frames: another texture, its own pan and zoom, at the training size (32 px)
    folder = write_folder(tmp_path / "video", clip(12, 32, seed=11, shift=(1.3, -0.6), zoom=0.97))
    errors = {}
    steps = ["trainer.max_steps=30", "trainer.val_check_interval=30", "samples.every_n_steps=30"]
    variants = {"none": [], "flow": ["temporal.weight=20", f"temporal.frames={folder}"]}
    for option, settings in variants.items():
        run = tmp_path / option
        train(make_cfg(f"paths.output_dir={run}", f"temporal={option}", *settings, *steps))
        errors[option] = network_warping_error(run / "checkpoints" / "last.ckpt")
    (none, none_std), (flow, flow_std) = errors["none"], errors["flow"]
    # measured 0.0072 vs 0.0122 (-41 %), output std 0.216 vs 0.229; at weight 30 the error
    # fell 67 % but the output std 40 %: the flatness guard below is what the weight is set by
    assert flow < 0.7 * none, errors
    assert flow_std > 0.8 * none_std, errors  # not by painting the frames flat
