"""A catalogue name works wherever a checkpoint does: CLI, stylize.py, the API, torch.hub."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO, write_images
from PIL import Image
from pretrained_fixtures import (  # noqa: F401 - the fixtures server and fresh_cache
    adain_files,
    fresh_cache_fixture,
    saved_models_zip,
    server_fixture,
    sha256,
    single,
    write_catalog,
)
from torch7_writer import checkpoint, johnson_model, save_t7

from fastnst import FastNSTError, Stylizer
from fastnst.app.main import main
from fastnst.models.checkpoint import load_style_checkpoint


@pytest.fixture
def candy(server, fresh_cache, tmp_path) -> torch.nn.Module:
    """A catalogue with ``candy`` (pytorch/examples' zip) and ``research`` (research-only
    licence, the same file), served locally; the reference network of candy."""
    archive, nets = saved_models_zip(tmp_path)
    server.files["/saved_models.zip"] = archive
    server.files["/research.pth"] = (tmp_path / "mosaic.pth").read_bytes()
    write_catalog(tmp_path / "catalog.json", server.url, {
        "ex/saved_models.zip": {"url": "/saved_models.zip", "unpack": "zip"},
        "r/research.pth": {"url": "/research.pth"},
    }, {**single("candy", "ex/saved_models.zip", member="candy.pth"),
        **single("research", "r/research.pth", "research")})  # fmt: skip
    return nets["candy"]


def expected(net: torch.nn.Module, photo: Path) -> np.ndarray:
    """The reference network (0-255 in and out) on the photo, as 8-bit RGB."""
    x = torch.from_numpy(np.array(Image.open(photo).convert("RGB"))).permute(2, 0, 1)[None]
    with torch.no_grad():
        y = net(x.float()).clamp(0, 255)[0].permute(1, 2, 0).numpy()
    return y


def assert_image_close(path: Path, reference: np.ndarray) -> None:
    got = np.asarray(Image.open(path).convert("RGB")).astype(np.float32)
    assert got.shape == reference.shape and got.std() > 10  # a picture, not a flat colour
    assert np.abs(got - reference).max() <= 1.0  # 8-bit rounding of the same values


def test_cli_lists_fetches_and_stylizes_with_a_name(candy, fresh_cache, tmp_path, capsys):
    photo = write_images(tmp_path / "in", 1, size=(40, 32))[0]
    main(["models"])
    listing = capsys.readouterr().out
    assert "candy" in listing and "research" in listing and " yes" not in listing
    main(["models", "fetch", "candy"])
    assert "saved_models/candy.pth" in capsys.readouterr().out
    main(["models"])
    size = (fresh_cache / "ex/saved_models.zip").stat().st_size / 1e6
    rows = capsys.readouterr().out.splitlines()[1:3]
    assert rows[0].endswith(f"yes ({size:.1f} MB downloaded)") and rows[1].endswith(" -")
    out = tmp_path / "out.png"
    fp32 = ["--device", "cpu", "--precision", "fp32"]  # auto may pick bf16: not comparable
    main(["stylize", str(photo), "--model", "candy", "-o", str(out), *fp32])
    assert_image_close(out, expected(candy, photo))
    main(["stylize", "candy", str(photo), "-o", str(tmp_path / "b.png"), *fp32])
    assert_image_close(tmp_path / "b.png", expected(candy, photo))


def test_cli_licence_and_network_errors_are_one_line(candy, server, tmp_path, capsys):
    photo = write_images(tmp_path / "in", 1)[0]
    with pytest.raises(SystemExit) as info:
        main(["stylize", str(photo), "--model", "research", "-o", str(tmp_path / "o.png")])
    assert "--accept-license" in str(info.value.code) and "\n" not in str(info.value.code)
    assert "Research use only." in capsys.readouterr().err
    main(["models", "fetch", "research", "--accept-license"])
    del server.files["/saved_models.zip"]
    with pytest.raises(SystemExit) as info:
        main(["models", "fetch", "candy"])
    assert info.value.code == (
        f"error: could not download {server.url}/saved_models.zip: HTTP 404; or download "
        f"{server.url}/saved_models.zip yourself and pass --model /path/to/candy.pth"
    )
    with pytest.raises(SystemExit) as info:
        main(["models", "fetch", "all"])
    assert info.value.code == "error: 1 of 2 not fetched: candy"


def test_api_and_stylize_py_take_a_name(candy, tmp_path):
    photo = write_images(tmp_path / "in", 1, size=(36, 28))[0]
    styled = Stylizer.from_pretrained("candy", device="cpu")(Image.open(photo))
    reference = expected(candy, photo)
    assert np.abs(np.asarray(styled).astype(np.float32) - reference).max() <= 1.0
    out = tmp_path / "hydra.png"
    result = subprocess.run(
        [sys.executable, str(REPO / "stylize.py"), "ckpt=candy", f"input={photo}",
         f"output={out}", "device=cpu", "precision=fp32"],
        capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert_image_close(out, reference)


def test_torch_hub_loads_a_catalogue_name(candy, tmp_path):
    net = torch.hub.load(str(REPO), "candy", source="local", trust_repo=True)
    x = torch.rand(1, 3, 24, 32)
    with torch.no_grad():
        assert (net(x) - candy(x * 255) / 255).abs().max() < 1e-4
    with pytest.raises(FastNSTError, match="--accept-license"):
        torch.hub.load(str(REPO), "research", source="local", trust_repo=True)


def test_a_research_only_torch7_model_after_accepting_its_licence(server, fresh_cache, tmp_path):
    save_t7(tmp_path / "udnie.t7", checkpoint(johnson_model("instance", (8, 16, 32)), "instance"))
    server.files["/models/instance_norm/udnie.t7"] = (tmp_path / "udnie.t7").read_bytes()
    write_catalog(tmp_path / "catalog.json", server.url,
                  {"johnson/udnie.t7": {"url": "/models/instance_norm/udnie.t7"}},
                  single("johnson_udnie", "johnson/udnie.t7", "research"))  # fmt: skip
    photo = write_images(tmp_path / "in", 1, size=(44, 36))[0]
    out = tmp_path / "out.png"
    main(["stylize", str(photo), "--model", "johnson_udnie", "-o", str(out), "--device", "cpu",
          "--precision", "fp32", "--accept-license"])  # fmt: skip
    x = torch.from_numpy(np.array(Image.open(photo))).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():  # the local file, loaded directly (tests/test_interop_torch7.py)
        reference = load_style_checkpoint(tmp_path / "udnie.t7").model(x).clamp(0, 1) * 255
    assert_image_close(out, reference[0].permute(1, 2, 0).numpy())
    assert Stylizer.from_pretrained("johnson_udnie", device="cpu").styles == ["udnie"]


def test_an_onnx_zoo_file_with_its_published_hash_runs_at_any_size(server, fresh_cache, tmp_path):
    from test_interop_onnx_zoo import zoo_file  # skips without onnx / onnxruntime

    reference = zoo_file(tmp_path / "rain-princess-9.onnx")
    data = (tmp_path / "rain-princess-9.onnx").read_bytes()
    server.files["/zoo/rain-princess-9.onnx"] = data
    pin = {"sha256": sha256(data), "size": len(data), "hash_source": "the test's own file"}
    write_catalog(tmp_path / "catalog.json", server.url,
                  {"onnx_zoo/rain-princess-9.onnx": {"url": "/zoo/rain-princess-9.onnx", **pin}},
                  single("onnx_rain_princess", "onnx_zoo/rain-princess-9.onnx"))  # fmt: skip
    x = torch.rand(1, 3, 36, 52)  # not the file's fixed 224 x 224 (a multiple of 4, as theirs)
    stylizer = Stylizer.from_pretrained("onnx_rain_princess", device="cpu", backend="torch")
    with torch.no_grad():
        assert (stylizer(x) - (reference(x * 255) / 255).clamp(0, 1)).abs().max() < 1e-4


def test_adain_files_land_in_one_folder_and_take_a_painting(server, fresh_cache, tmp_path):
    files = adain_files(tmp_path)
    for name, data in files.items():
        server.files[f"/rel/{name}"] = data
    write_catalog(tmp_path / "catalog.json", server.url,
                  {f"adain/{n}": {"url": f"/rel/{n}"} for n in files},
                  {"adain": {"title": "AdaIN", "kind": "arbitrary", "reference": "test",
                             "format": "pytorch-AdaIN", "license": "open",
                             "downloads": [f"adain/{n}" for n in files],
                             "file": "adain/decoder.pth"}})  # fmt: skip
    photo, painting = write_images(tmp_path / "in", 2, size=(40, 32))
    stylizer = Stylizer.from_pretrained("adain", device="cpu", style_image=painting)
    assert (fresh_cache / "adain/vgg_normalised.pth").read_bytes() == files["vgg_normalised.pth"]
    out = stylizer(Image.open(photo))
    assert out.size == (40, 32)


def test_magenta_is_converted_once_or_names_its_extra(server, fresh_cache, tmp_path, monkeypatch):
    server.files["/monet.ckpt"] = b"\0" * 64
    write_catalog(tmp_path / "catalog.json", server.url, {"mg/monet.ckpt": {"url": "/monet.ckpt"}},
                  {"monet": {"title": "Monet", "kind": "multi", "reference": "test",
                             "format": "TensorFlow .ckpt", "license": "open",
                             "downloads": ["mg/monet.ckpt"], "file": "mg/monet.fastnst.ckpt",
                             "convert": "magenta", "num_styles": 3}})  # fmt: skip
    fake = tmp_path / "site" / "tensorflow"  # shadows a real TensorFlow in the reader's child
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named tensorflow')\n")
    monkeypatch.setenv("PYTHONPATH", str(fake.parent))
    with pytest.raises(FastNSTError, match=r'pip install "fastnst\[magenta\]"'):
        Stylizer.from_pretrained("monet", device="cpu", style="style_01")
    assert (fresh_cache / "mg/monet.ckpt").is_file()  # fetched once; converted once TF is there
    assert not (fresh_cache / "mg/monet.fastnst.ckpt").exists()


@pytest.mark.slow  # TensorFlow starts twice in child processes: about a minute
def test_magenta_is_fetched_and_converted_once(server, fresh_cache, tmp_path):
    if importlib.util.find_spec("tensorflow") is None:  # never imported here: see
        pytest.skip("TensorFlow is not installed")  # tests/test_interop_magenta.py
    code = "import sys; from test_interop_magenta import *; write_tensorflow_reference(sys.argv[1])"
    env = {**os.environ, "PYTHONPATH": str(REPO / "tests"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    child = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env,
                           capture_output=True, text=True)  # fmt: skip
    assert child.returncode == 0, child.stderr[-2000:]
    server.files["/monet.ckpt"] = (tmp_path / "monet.ckpt").read_bytes()
    write_catalog(tmp_path / "catalog.json", server.url, {"mg/monet.ckpt": {"url": "/monet.ckpt"}},
                  {"monet": {"title": "Monet", "kind": "multi", "reference": "test",
                             "format": "TensorFlow .ckpt", "license": "open",
                             "downloads": ["mg/monet.ckpt"], "file": "mg/monet.fastnst.ckpt",
                             "convert": "magenta", "num_styles": 3}})  # fmt: skip
    stylizer = Stylizer.from_pretrained("monet", device="cpu", style="style_01")
    converted = fresh_cache / "mg/monet.fastnst.ckpt"
    stamp = converted.stat().st_mtime_ns
    x = torch.rand(1, 3, 32, 40)
    direct = load_style_checkpoint(converted)
    assert direct.styles == ["style_00", "style_01", "style_02"]
    expected = Stylizer(direct.model, device="cpu", style="style_01", styles=direct.styles)(x)
    assert torch.equal(stylizer(x), expected)
    Stylizer.from_pretrained("monet", device="cpu", style="style_02")
    assert converted.stat().st_mtime_ns == stamp and server.hits["/monet.ckpt"] == 1


def test_show_prints_the_record_and_remove_forgets_it(candy, fresh_cache, capsys):
    main(["models", "fetch", "candy"])
    record = json.loads((fresh_cache / "manifest.json").read_text())["files"]
    zipped = record["ex/saved_models.zip"]
    capsys.readouterr()
    main(["models", "show", "candy"])
    shown = capsys.readouterr().out
    assert f"{zipped['size']} bytes, sha256 {zipped['sha256']}" in shown
    main(["models", "remove", "candy"])
    assert not (fresh_cache / "ex").exists()
    left = json.loads((fresh_cache / "manifest.json").read_text())["files"]
    assert not [key for key in left if key.startswith("ex/")]
    capsys.readouterr()
    main(["models", "show", "candy"])
    assert "not cached" in capsys.readouterr().out
