"""The demo page lists the references' published files of a folder as working models."""

from __future__ import annotations

from pathlib import Path

from test_interop_onnx_zoo import zoo_file
from torch7_writer import checkpoint, johnson_model, save_t7

from fastnst.demo.catalog import ModelCatalog


def test_zoo_onnx_and_torch7_files_are_single_style_models(tmp_path: Path) -> None:
    zoo_file(tmp_path / "candy-9.onnx")
    save_t7(tmp_path / "udnie.t7", checkpoint(johnson_model("instance", (8, 16, 32)), "instance"))
    infos = {info.name: info for info in ModelCatalog(tmp_path, backend="torch").list()}
    assert set(infos) == {"candy-9.onnx", "udnie.t7"}
    assert {info.kind for info in infos.values()} == {"single"}, infos
