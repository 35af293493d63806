"""Video round trip: frame count, size, frame rate and audio survive; frames are stylized."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fastnst import FastNSTError, Stylizer
from fastnst.inference.video import VideoResult, stylize_video
from fastnst.models import TransformerNet

av = pytest.importorskip("av")


def write_video(
    path: Path, frames: int = 12, size: tuple[int, int] = (64, 48), fps: int = 10
) -> None:
    """An H.264 clip of moving colour bars with a 440 Hz AAC tone of the same length."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = *size, "yuv420p"
        audio = container.add_stream("aac", rate=16000)
        for index in range(frames):
            array = np.zeros((size[1], size[0], 3), np.uint8)
            array[:, :, 0] = np.roll(np.linspace(0, 255, size[0], dtype=np.uint8), 4 * index)
            array[: size[1] // 2, :, 1] = 180
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        samples = 16000 * frames // fps
        tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(samples) / 16000)).astype(np.float32)
        for start in range(0, samples, 1024):
            chunk = av.AudioFrame.from_ndarray(
                tone[None, start : start + 1024], format="fltp", layout="mono"
            )
            chunk.sample_rate, chunk.pts = 16000, start
            container.mux(audio.encode(chunk))
        container.mux(audio.encode(None))


def probe(path: Path) -> dict:
    """Frame count, size, average frame rate, audio packet count and the first frame (RGB)."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        info = {"size": (video.width, video.height), "rate": video.average_rate}
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    with av.open(str(path)) as container:
        audio_packets = sum(1 for p in container.demux(audio=0) if p.size)
    return {**info, "frames": len(frames), "audio_packets": audio_packets, "first": frames[0]}


def test_video_round_trip_keeps_frames_size_rate_and_audio(tmp_path: Path) -> None:
    src, dst = tmp_path / "clip.mp4", tmp_path / "out" / "styled.mp4"
    write_video(src)
    torch.manual_seed(0)
    stylizer = Stylizer(
        TransformerNet(width=4, num_residual_blocks=1, head="sigmoid"),
        batch_size=5,
        backend="torch",
    )
    assert stylize_video(stylizer, src, dst, progress=False) == VideoResult(frames=12, skipped=0)
    before, after = probe(src), probe(dst)
    for key in ("frames", "size", "rate", "audio_packets"):
        assert after[key] == before[key], key
    content = torch.from_numpy(before["first"]).permute(2, 0, 1).float() / 255
    expected = (stylizer(content).permute(1, 2, 0) * 255).numpy()
    codec_error = np.abs(after["first"] - expected).mean()
    content_error = np.abs(after["first"] - before["first"].astype(float)).mean()
    # yuv420p halves chroma resolution: ~6/255 mean error on this random network's busy output
    assert codec_error < 8 and content_error > 5 * codec_error, (codec_error, content_error)
    with pytest.raises(FastNSTError, match="overwrite=true"):
        stylize_video(stylizer, src, dst, progress=False)


def test_unreadable_video_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "bad.mp4").write_bytes(b"not a video")
    stylizer = Stylizer(TransformerNet(width=4, num_residual_blocks=1), backend="torch")
    with pytest.raises(FastNSTError, match="cannot read video"):
        stylize_video(stylizer, tmp_path / "bad.mp4", tmp_path / "out.mp4", progress=False)
    assert not list(tmp_path.glob("*out*"))


def write_corrupt_mjpeg(path: Path, frames: int = 8, broken: int = 3) -> None:
    """An MJPEG clip whose frame ``broken`` has its JPEG data overwritten (undecodable)."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("mjpeg", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuvj420p"
        for index in range(frames):
            array = np.random.default_rng(index).integers(0, 255, (48, 64, 3), np.uint8)
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
    with av.open(str(path)) as container:
        packets = [(p.pos, p.size) for p in container.demux(video=0) if p.size]
    data = bytearray(path.read_bytes())
    start, size = packets[broken]
    first, last = start + size // 4, start + size - 8  # keep the JPEG headers and end marker
    data[first:last] = (bytes([0, 0, 255]) * size)[: last - first]
    path.write_bytes(bytes(data))


def test_corrupt_and_failing_frames_are_skipped_and_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, dst = tmp_path / "clip.mkv", tmp_path / "styled.mp4"
    write_corrupt_mjpeg(src)  # 8 frames, the 4th undecodable
    model = TransformerNet(width=4, num_residual_blocks=1)
    stylizer = Stylizer(model, backend="torch", batch_size=4)
    calls = []

    def stylize(content: torch.Tensor) -> torch.Tensor:
        calls.append(len(content))
        if len(calls) <= 2:  # the first batch fails, and so does its first frame on its own
            raise RuntimeError("out of memory")
        return Stylizer(model, backend="torch")(content)

    monkeypatch.setattr(stylizer, "stylize", stylize)
    result = stylize_video(stylizer, src, dst, progress=False)
    assert result == VideoResult(frames=6, skipped=2)
    assert calls == [4, 1, 1, 1, 1, 3]  # the failed batch is retried frame by frame
    with av.open(str(dst)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 6
