"""The solver's GIF and the ablation tables are written atomically: a crash leaves no half file."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from omegaconf import DictConfig, OmegaConf
from PIL import Image

from fastnst.app.ablate import write_table
from fastnst.solver.callbacks import SnapshotWriter
from fastnst.solver.optimize import Progress


class DiskFull(OSError):
    """What a write that fails halfway raises in these tests."""


def _snapshots(gif: Path, count: int = 3) -> SnapshotWriter:
    writer = SnapshotWriter(None, every=1, gif=gif, gif_size=16)
    for i in range(1, count + 1):
        image = torch.full((1, 3, 12, 16), i / count)
        writer(Progress(iteration=i, level=0, image=image, terms={}, seconds=0.0))
    return writer


def test_gif_is_written_whole(tmp_path: Path) -> None:
    gif = tmp_path / "run" / "progress.gif"
    _snapshots(gif).close()

    with Image.open(gif) as image:
        assert image.format == "GIF" and image.n_frames == 3
    assert [p.name for p in gif.parent.iterdir()] == ["progress.gif"]


def test_gif_failing_halfway_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gif = tmp_path / "progress.gif"
    writer = _snapshots(gif)

    def half_save(self: Image.Image, fp: str | Path, *args: object, **kwargs: object) -> None:
        Path(fp).write_bytes(b"GIF89a" + b"\0" * 10)  # a truncated GIF
        raise DiskFull("no space left on device")

    monkeypatch.setattr(Image.Image, "save", half_save)
    with pytest.raises(DiskFull):
        writer.close()

    assert list(tmp_path.iterdir()) == []


def _table_cfg() -> DictConfig:
    return OmegaConf.create({
        "vgg": {"weights": "random"}, "solver": {"iterations": 2}, "content": "photo.jpg",
        "style": {"name": "stripes"}, "size": 32,
    })  # fmt: skip


ROWS = {
    "gatys": {"overrides": "loss=gatys", "style_weight": 1e5, "style_start": 2.0,
              "style_final": 0.5, "style_ratio": 0.25, "content_final": 1.5, "seconds": 0.3},
}  # fmt: skip


def test_tables_are_written(tmp_path: Path) -> None:
    write_table(ROWS, tmp_path / "out" / "ablation", _table_cfg())

    assert "| gatys | `loss=gatys` | 1e+05 |" in (tmp_path / "out" / "ablation.md").read_text()
    assert '"style_ratio": 0.25' in (tmp_path / "out" / "ablation.json").read_text()


@pytest.mark.parametrize("failing", [".json", ".md"])
def test_tables_failing_halfway_leave_no_half_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    real = Path.write_text

    def half_write(self: Path, data: str, *args: object, **kwargs: object) -> int:
        if not self.name.endswith(failing):
            return real(self, data, *args, **kwargs)
        real(self, data[: len(data) // 2])
        raise DiskFull("no space left on device")

    monkeypatch.setattr(Path, "write_text", half_write)
    with pytest.raises(DiskFull):
        write_table(ROWS, tmp_path / "ablation", _table_cfg())

    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(failing)] == []
