"""Stylizing with an arbitrary-style checkpoint: any painting, blends, alpha, folders."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO, write_images
from PIL import Image

from fastnst.app.main import main
from fastnst.errors import FastNSTError
from fastnst.inference import Stylizer
from fastnst.inference.arbitrary import bind_paintings, load_painting
from fastnst.inference.command import run
from fastnst.inference.paintings import painting_sheet
from fastnst.io.image import load_image
from fastnst.models.adain import AdaINNet
from fastnst.models.checkpoint import CHECKPOINT_KEY, PREFIX, checkpoint_entry
from fastnst.models.transformer import TransformerNet


def save_adain_checkpoint(path: Path, model: AdaINNet | None = None) -> Path:
    """``model`` (default: a seeded untrained one on a random VGG) as a train.py checkpoint."""
    if model is None:
        torch.manual_seed(0)
        model = AdaINNet()
        model.encoder.load_vgg("random", seed=3)
    state = {PREFIX + key: value for key, value in model.state_dict().items()}
    entry = checkpoint_entry(model, ["arbitrary"], {})
    torch.save({"state_dict": state, CHECKPOINT_KEY: entry, "global_step": 7}, path)
    return path


@pytest.fixture(scope="module")
def adain_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_adain_checkpoint(tmp_path_factory.mktemp("adain") / "adain.ckpt")


@pytest.fixture
def painting_files(tmp_path: Path) -> list[Path]:
    return write_images(tmp_path / "paintings", 2, size=(40, 32), seed=5)


def test_the_checkpoint_stylizes_like_the_network(adain_ckpt: Path, painting_files) -> None:
    stylizer = Stylizer.from_checkpoint(adain_ckpt, style_image=painting_files[0], style_size=None)
    network = stylizer.model.model
    content = torch.rand(1, 3, 35, 27)
    with torch.no_grad():
        expected = network(content, load_image(painting_files[0])).clamp(0, 1)
    torch.testing.assert_close(stylizer(content[0]), expected[0])
    assert stylizer.backend == "torch"


def test_blends_and_alpha(adain_ckpt: Path, painting_files: list[Path]) -> None:
    def stylizer(**options) -> Stylizer:
        return Stylizer.from_checkpoint(adain_ckpt, style_size=48, **options)

    content = torch.rand(1, 3, 32, 32)
    first, second = (stylizer(style_image=path) for path in painting_files)
    blend = stylizer(style_image=painting_files, style_image_weights=[2.0, 0.0])
    torch.testing.assert_close(blend.stylize(content), first.stylize(content))
    even = stylizer(style_image=painting_files)
    torch.testing.assert_close(even.model.stats, (first.model.stats + second.model.stats) / 2)
    assert (first.model.stats - second.model.stats).abs().amax() > 1e-3
    bound = stylizer(style_image=painting_files[0], alpha=0.0)
    with torch.no_grad():
        encoder, decoder = bound.model.model.encoder, bound.model.model.decoder
        own = decoder(encoder(content, deepest_only=True)[0]).clamp(0, 1)
    torch.testing.assert_close(bound.stylize(content), own)


def test_a_folder_encodes_the_painting_once(
    adain_ckpt: Path, painting_files: list[Path], tmp_path: Path, monkeypatch
) -> None:
    photos = tmp_path / "photos"
    write_images(photos, 3, size=(24, 20))
    write_images(photos / "sub", 2, size=(30, 26), seed=9)
    calls = []
    original = AdaINNet.style_statistics
    monkeypatch.setattr(
        AdaINNet, "style_statistics", lambda self, x: calls.append(x.shape) or original(self, x)
    )
    report = run(
        ckpt=str(adain_ckpt), input=str(photos), output=str(tmp_path / "out"),
        style_image=str(painting_files[0]), style_size=48, progress=False, batch_size=2,
    )  # fmt: skip
    assert len(report.written) == 5 and not report.failed
    assert len(calls) == 1 and min(calls[0][-2:]) == 48  # once for 5 photos, at style_size


def test_one_image_through_run_and_no_silent_overwrite(
    adain_ckpt: Path, painting_files: list[Path], tmp_path: Path
) -> None:
    photo = write_images(tmp_path / "photo", 1, size=(33, 21))[0]
    out = tmp_path / "out.png"
    options = {"ckpt": str(adain_ckpt), "input": str(photo), "output": str(out)}
    painting = {"style_image": str(painting_files[1]), "style_size": 48}
    run(**options, **painting, alpha=0.5, preserve_color="luminance")
    assert load_image(out).shape == (1, 3, 21, 33)
    with pytest.raises(FastNSTError, match="exists"):
        run(**options, **painting)


def test_user_errors_are_one_line(adain_ckpt: Path, painting_files: list[Path]) -> None:
    with pytest.raises(FastNSTError, match="pass style_image="):
        Stylizer.from_checkpoint(adain_ckpt)
    with pytest.raises(FastNSTError, match="tile="):
        Stylizer.from_checkpoint(adain_ckpt, style_image=painting_files[0], tile=64)
    with pytest.raises(FastNSTError, match="arbitrary-style checkpoint"):
        Stylizer(TransformerNet(width=4, num_residual_blocks=1), style_image=painting_files[0])
    with pytest.raises(FastNSTError, match="style_image_weights"):
        Stylizer.from_checkpoint(adain_ckpt, style_image=painting_files, style_image_weights=[1.0])
    with pytest.raises(FastNSTError, match="alpha"):
        Stylizer.from_checkpoint(adain_ckpt, style_image=painting_files[0], alpha=1.5)
    with pytest.raises(FastNSTError, match="style_image_weights"):
        bind_paintings(AdaINNet(), painting_files, [1.0, -1.0])
    with pytest.raises(FastNSTError, match="at least 8 px"):
        load_painting(torch.rand(3, 4, 40))


def test_bound_style_moves_with_the_network(adain_ckpt: Path, painting_files) -> None:
    stylizer = Stylizer.from_checkpoint(adain_ckpt, style_image=painting_files[0], style_size=40)
    bound = bind_paintings(stylizer.model.model, painting_files[0], size=40)
    assert "stats" in dict(bound.named_buffers()) and bound.stats.shape == (1, 2, 512)
    torch.testing.assert_close(bound.stats, stylizer.model.stats)


def test_fastnst_stylize_takes_paintings(
    adain_ckpt: Path, painting_files: list[Path], tmp_path: Path
) -> None:
    photo = write_images(tmp_path / "photo", 1, size=(30, 22))[0]
    out = tmp_path / "styled.png"
    paintings = [word for path in painting_files for word in ("--style-image", str(path))]
    argv = ["stylize", str(adain_ckpt), str(photo), "-o", str(out), "--no-progress"]
    main([*argv, *paintings, "--style-image-weights", "3", "1", "--style-size", "40"])
    assert load_image(out).shape == (1, 3, 22, 30)
    with pytest.raises(SystemExit, match="pass style_image="):
        main([*argv, "--overwrite"])


def test_stylize_py_with_a_painting(adain_ckpt: Path, painting_files, tmp_path: Path) -> None:
    photo = write_images(tmp_path / "photo", 1, size=(26, 34))[0]
    out = tmp_path / "out.jpg"
    command = [
        sys.executable, str(REPO / "stylize.py"), f"ckpt={adain_ckpt}", f"input={photo}",
        f"style_image={painting_files[0]}", "style_size=40", f"output={out}",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert load_image(out).shape == (1, 3, 34, 26)


def test_every_photo_in_every_painting_of_a_folder(adain_ckpt: Path, tmp_path: Path) -> None:
    paintings = tmp_path / "paintings"
    write_images(paintings, 2, size=(40, 32), seed=5)
    write_images(paintings / "more", 1, size=(40, 32), seed=6)  # img_000 again, in a subfolder
    photos = tmp_path / "photos"
    write_images(photos, 2, size=(24, 20))
    out = tmp_path / "out"
    options = {"ckpt": str(adain_ckpt), "output": str(out), "style_size": 40, "progress": False}
    report = run(input=str(photos), style_image=str(paintings), **options)
    names = sorted(str(p.relative_to(out)) for p in report.written)
    assert names == [f"{d}/img_00{i}.png" for d in ("img_000", "img_001", "more/img_000")
                     for i in (0, 1)]  # fmt: skip
    again = run(input=str(photos), style_image=str(paintings), **options)
    assert again.written == [] and len(again.existing) == 6  # left alone
    photo = {"input": str(photos / "img_000.png"), "style_image": str(paintings)}
    with pytest.raises(FastNSTError, match="exists"):
        run(**photo, **options)
    assert len(run(**photo, **options, overwrite=True).written) == 3
    with pytest.raises(FastNSTError, match="must be a folder"):
        run(**photo, **{**options, "output": str(tmp_path / "x.png")})


def test_a_sheet_shows_every_photo_in_every_painting(
    adain_ckpt: Path, painting_files: list[Path], tmp_path: Path
) -> None:
    photos = write_images(tmp_path / "photos", 2, size=(40, 30), seed=11)
    out = tmp_path / "sheet.png"
    options = {"ckpt": str(adain_ckpt), "input": str(tmp_path / "photos"), "output": str(out),
               "sheet": True, "style_size": 32}  # fmt: skip
    run(**options, style_image=str(painting_files[0].parent))
    sheet = load_image(out)[0]
    # header 20 px, then rows of 192 px + 4 px padding: the paintings' row and one per photo;
    # the bottom-right cell (256 x 192, the 40 x 30 photos scaled) is the last photo in the
    # last painting
    assert sheet.shape[-2] == 20 + 3 * (192 + 4) + 4
    cell = sheet[:, 24 + 2 * 196 : 24 + 2 * 196 + 192, -4 - 256 : -4]
    stylizer = Stylizer.from_checkpoint(adain_ckpt, style_image=painting_files[-1], style_size=32)
    expected = stylizer(Image.open(photos[-1])).resize((256, 192))
    expected = torch.from_numpy(np.asarray(expected)).permute(2, 0, 1) / 255
    photo = torch.from_numpy(np.asarray(Image.open(photos[-1]).resize((256, 192))))
    assert float((cell - expected).abs().mean()) < 0.01
    assert float((cell - photo.permute(2, 0, 1) / 255).abs().mean()) > 0.02
    with pytest.raises(FastNSTError, match="exists"):
        run(**options, style_image=str(painting_files[0].parent))
    with pytest.raises(FastNSTError, match="at most 12 photos"):
        painting_sheet(adain_ckpt, photos * 7, painting_files)
