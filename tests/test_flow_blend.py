"""Flow-guided stylizing: blending along the input's flow lowers the flicker of a noisy network,
in memory, on a video and on a folder of frames."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_flow import texture
from test_stylize import save_checkpoint, tiny_model

from fastnst import Stylizer
from fastnst.errors import FastNSTError
from fastnst.flow.synthetic import camera_clip
from fastnst.inference.command import run
from fastnst.inference.video import VideoResult, stylize_video
from fastnst.io.image import save_image
from fastnst.video_metrics import known_pairs, warping_error

pytest.importorskip("cv2")
from fastnst.inference.flow_blend import FlowBlend  # noqa: E402


def flickering(frames: torch.Tensor, std: float = 0.05) -> torch.Tensor:
    """A stand-in for a flickering network: each frame plus its own noise."""
    noise = torch.randn(frames.shape, generator=torch.Generator().manual_seed(0)) * std
    return (frames + noise).clamp(0, 1)


def blended(frames: torch.Tensor, styled: torch.Tensor, blend: FlowBlend) -> torch.Tensor:
    return torch.cat([blend(c[None], s[None]) for c, s in zip(frames, styled, strict=True)])


def test_flow_blend_lowers_the_warping_error_of_a_flickering_network() -> None:
    frames, flows = camera_clip(texture(121, 161, seed=3, cells=20), 8, (72, 96),
                                shift=(1.5, -0.5), zoom=0.99)  # fmt: skip
    styled, pairs = flickering(frames), known_pairs(flows)
    out = blended(frames, styled, FlowBlend(strength=0.6, preset="medium"))
    assert torch.equal(out[0], styled[0])  # nothing to carry into the first frame
    before, after = warping_error(styled, pairs), warping_error(out, pairs)
    assert after < 0.6 * before, (before, after)
    assert (out - frames).abs().mean() < (styled - frames).abs().mean()  # no smearing
    still = blended(frames, styled, FlowBlend(strength=0.0))
    torch.testing.assert_close(still, styled)


def test_a_new_clip_starts_fresh_and_bad_strength_is_a_user_error() -> None:
    frames = texture(32, 32).expand(2, -1, -1, -1)
    blend = FlowBlend(0.5)
    blend(frames[:1], torch.zeros(1, 3, 32, 32))
    blend.reset()
    ones = torch.ones(1, 3, 32, 32)
    assert torch.equal(blend(frames[1:], ones), ones)
    with pytest.raises(FastNSTError, match=r"flow_blend=1.0 must be in \[0, 1\)"):
        FlowBlend(1.0)


def test_stylize_runs_a_folder_of_frames_as_a_sequence(tmp_path: Path) -> None:
    frames, _ = camera_clip(texture(81, 101, seed=5, cells=12), 4, (40, 56), shift=(1.0, 0.0))
    folder = tmp_path / "frames"
    for t, frame in enumerate(frames):
        save_image(frame[None], folder / f"frame_{t:04d}.png")
    ckpt = str(save_checkpoint(tiny_model(), tmp_path / "tiny.ckpt"))
    options = {"ckpt": ckpt, "input": str(folder), "progress": False, "backend": "torch"}
    plain = run(**options, output=str(tmp_path / "plain"))
    flow = run(**options, output=str(tmp_path / "blend"), flow_blend=0.5)
    assert len(plain.written) == len(flow.written) == 4
    first = [(tmp_path / kind / "frame_0000.png").read_bytes() for kind in ("plain", "blend")]
    last = [(tmp_path / kind / "frame_0003.png").read_bytes() for kind in ("plain", "blend")]
    assert first[0] == first[1] and last[0] != last[1]
    with pytest.raises(FastNSTError, match="needs a video or a folder of frames"):
        run(ckpt=ckpt, input=str(folder / "frame_0000.png"), output=str(tmp_path / "x.png"),
            flow_blend=0.5)  # fmt: skip
    with pytest.raises(FastNSTError, match=r"flow_blend=1.5 must be in \[0, 1\)"):
        run(**options, output=str(tmp_path / "y"), flow_blend=1.5)


class RecordingBlend(FlowBlend):
    """A FlowBlend that records its calls and paints every frame after the first black."""

    def __init__(self) -> None:
        super().__init__(0.5)
        self.calls: list[tuple[int, ...]] = []

    def reset(self) -> None:
        super().reset()
        self.calls = []

    def __call__(self, content: torch.Tensor, styled: torch.Tensor) -> torch.Tensor:
        self.calls.append(tuple(styled.shape))
        return styled if len(self.calls) == 1 else torch.zeros_like(styled)


def test_video_passes_every_frame_through_the_blend_in_order(tmp_path: Path) -> None:
    av = pytest.importorskip("av")
    from test_video import write_video

    src, dst = tmp_path / "clip.mp4", tmp_path / "blend.mp4"
    write_video(src, frames=6)  # 64 x 48
    stylizer = Stylizer(tiny_model(), backend="torch", batch_size=4)
    blend = RecordingBlend()
    assert stylize_video(stylizer, src, dst, progress=False, blend=blend) == VideoResult(6, 0)
    assert blend.calls == [(1, 3, 48, 64)] * 6
    with av.open(str(dst)) as container:
        means = [f.to_ndarray(format="rgb24").mean() for f in container.decode(video=0)]
    assert means[0] > 20 and max(means[1:]) < 3  # the blend's output is what was encoded
