"""TorchScript and ONNX export: every size down to 1 x 1, parity with PyTorch, the export cache,
exported .onnx files as checkpoints, and the style input of multi-style networks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import write_images
from numerics import assert_close_fp32, photo_scale
from PIL import Image
from test_stylize import save_checkpoint
from torch import nn

from fastnst import FastNSTError, Stylizer
from fastnst.inference import runtime
from fastnst.inference.command import run
from fastnst.inference.export import (
    INPUT_NAME,
    STYLE_NAME,
    ExportedStylizer,
    export_model,
    pad_like_network,
)
from fastnst.models import TransformerNet

# (N, H, W): odd sizes, sides below the network's 8 px minimum and below 4 px included
SIZES = [(1, 37, 50), (3, 64, 81), (1, 5, 9), (2, 101, 33), (1, 1, 1), (2, 3, 400), (1, 5, 7)]
DEPTH = 10  # tiny_model's layers, for the fp32 tolerance (tests/numerics.py)


@pytest.fixture(scope="module", autouse=True)
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Cached exports go to a folder of this module, never to ~/.cache."""
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FASTNST_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_checkpoint(tiny_model(), tmp_path_factory.mktemp("ckpt") / "tiny.ckpt")


@pytest.fixture(scope="module")
def onnx_file(tiny_ckpt: Path, onnx_cache: Path) -> Path:
    """The checkpoint's ONNX export, made once, by a Stylizer, into the module's export cache."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    Stylizer.from_checkpoint(tiny_ckpt, backend="onnxruntime")(torch.rand(1, 3, 8, 8))
    (path,) = (onnx_cache / "onnx").iterdir()  # one self-contained file, no temporary left
    return path


def tiny_model() -> TransformerNet:
    """Ten convolutions deep (DEPTH): 3 down, 2 residual blocks of 2, 2 up, the output layer."""
    torch.manual_seed(0)
    return TransformerNet(width=8, num_residual_blocks=2, head="tanh").eval()


def assert_parity(actual: torch.Tensor, expected: torch.Tensor, h: int, w: int) -> None:
    """fp32 rounding through tiny_model's DEPTH layers; 1 x 1 is ill-conditioned (photo_scale)."""
    assert_close_fp32(actual, expected, depth=DEPTH, scale=photo_scale(h, w), what=f"{h}x{w}")


class TwoStyles(nn.Module):
    """A stand-in multi-style network: the style weights mix two halves of a convolution."""

    num_styles = 2

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 6, 3, padding=1)

    def forward(self, x: torch.Tensor, style: torch.Tensor | None = None) -> torch.Tensor:
        first, second = self.conv(x).chunk(2, dim=1)
        weights = torch.tensor([1.0, 0.0]) if style is None else style
        return torch.sigmoid(weights[0] * first + weights[1] * second)


def network_padding(x: torch.Tensor) -> torch.Tensor:
    """The naive reference: TransformerNet.forward's padding, written with F.pad."""
    h, w = x.shape[-2:]
    pad_h, pad_w = max(8, h + -h % 4) - h, max(8, w + -w % 4) - w
    mode = "reflect" if pad_h < h and pad_w < w else "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode) if pad_h or pad_w else x


def test_branch_free_padding_is_the_network_padding_at_every_small_size() -> None:
    for h in range(1, 14):
        for w in (1, 2, 3, 4, 5, 7, 8, 9, 13):
            x = torch.rand(2, 3, h, w)
            assert torch.equal(pad_like_network(x), network_padding(x)), (h, w)


def test_torchscript_matches_pytorch_on_every_size(tmp_path: Path) -> None:
    model = tiny_model()
    path = export_model(model, tmp_path / "m.pt", "torchscript")
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]
    with pytest.warns(FutureWarning):  # torch.jit.load is deprecated upstream
        loaded = torch.jit.load(str(path))
    for n, h, w in SIZES:
        x = torch.rand(n, 3, h, w)
        with torch.no_grad():
            assert_parity(loaded(x), model(x).clamp(0, 1), h, w)


def test_multi_style_networks_get_a_style_input(tmp_path: Path) -> None:
    model = TwoStyles()
    with pytest.warns(FutureWarning):
        loaded = torch.jit.load(str(export_model(model, tmp_path / "m.pt", "torchscript")))
    x, style = torch.rand(2, 3, 5, 7), torch.tensor([0.25, 0.75])
    wrapper = ExportedStylizer(model)
    with torch.no_grad():
        mixed = loaded(x, style)
        assert_close_fp32(mixed, wrapper(x, style), depth=1, what="one conv, then a sigmoid")
        assert (mixed - wrapper(x)).abs().max() > 0.01  # the weights are not ignored


@pytest.mark.slow
def test_onnx_matches_pytorch_on_every_size(onnx_file: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    model = tiny_model()
    for n, h, w in SIZES:
        x = torch.rand(n, 3, h, w)
        (y,) = session.run(None, {INPUT_NAME: x.numpy()})
        with torch.no_grad():
            expected = model(x).clamp(0, 1)
        assert_parity(torch.from_numpy(y), expected, h, w)


@pytest.mark.slow
def test_multi_style_onnx_takes_the_style_weights(tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    model = TwoStyles()
    session = ort.InferenceSession(str(export_model(model, tmp_path / "m.onnx", "onnx")))
    assert [i.name for i in session.get_inputs()] == [INPUT_NAME, STYLE_NAME]
    x, style = torch.rand(1, 3, 3, 10), torch.tensor([0.25, 0.75])
    (y,) = session.run(None, {INPUT_NAME: x.numpy(), STYLE_NAME: style.numpy()})
    with torch.no_grad():
        assert_close_fp32(torch.from_numpy(y), ExportedStylizer(model)(x, style), depth=1)


def test_export_refuses_to_overwrite_and_unknown_formats(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    path.write_bytes(b"old")
    with pytest.raises(FastNSTError, match="overwrite=true"):
        export_model(tiny_model(), path, "onnx")
    with pytest.raises(FastNSTError, match="torchscript or onnx"):
        export_model(tiny_model(), tmp_path / "m.x", "tflite")
    assert path.read_bytes() == b"old"


def test_onnxruntime_backend_takes_every_size_and_reuses_the_cached_export(
    tiny_ckpt: Path, onnx_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_export(*args, **kwargs) -> None:
        raise AssertionError("exported again instead of loading the cached export")

    monkeypatch.setattr(runtime, "export_model", no_export)
    fast = Stylizer.from_checkpoint(tiny_ckpt, backend="onnxruntime", batch_size=2)
    plain = Stylizer(tiny_model(), backend="torch")
    for n, h, w in [(3, 29, 42), *SIZES[-3:]]:  # 1 x 1, 3 x 400, 5 x 7 included
        content = torch.rand(n, 3, h, w)
        assert_parity(fast(content), plain(content), h, w)
    assert [p.name for p in onnx_file.parent.iterdir()] == [onnx_file.name]


def test_export_cache_keys_follow_the_network() -> None:
    key = runtime.network_digest(tiny_model())
    assert runtime.network_digest(tiny_model()) == key
    other_head = TransformerNet(width=8, num_residual_blocks=2, head="sigmoid")
    other_head.load_state_dict(tiny_model().state_dict())  # same weights, another graph
    changed = tiny_model()
    with torch.no_grad():
        changed.net[0][1].bias[0] += 1e-3
    assert key not in {runtime.network_digest(other_head), runtime.network_digest(changed)}


def test_an_onnx_file_is_a_checkpoint_with_the_same_options(
    tmp_path: Path, onnx_file: Path
) -> None:
    content = torch.rand(3, 3, 30, 44)
    options = {"strength": 0.5, "preserve_color": "luminance", "size": 16, "batch_size": 2}
    exported = Stylizer.from_checkpoint(onnx_file, **options)(content)
    plain = Stylizer(tiny_model(), backend="torch", **options)(content)
    assert exported.shape == (3, 3, 16, 23)
    assert_close_fp32(exported, plain, depth=DEPTH, scale=1.0, what="with the options")
    (src,) = write_images(tmp_path / "in", 1, size=(3, 400))
    report = run(ckpt=str(onnx_file), input=str(src), output=str(tmp_path / "out.png"))
    assert report.written == [tmp_path / "out.png"]
    assert Image.open(tmp_path / "out.png").size == (3, 400)


def test_onnx_checkpoints_refuse_pytorch_only_options(tmp_path: Path, onnx_file: Path) -> None:
    for options in ({"tile": 128}, {"backend": "torch"}, {"device": "cuda"}, {"channels_last": 1}):
        with pytest.raises(FastNSTError, match="exported ONNX model") as info:
            Stylizer.from_checkpoint(onnx_file, **options)
        assert "\n" not in str(info.value) and next(iter(options)) in str(info.value)
    with pytest.raises(FastNSTError, match="export= needs its PyTorch checkpoint"):
        run(ckpt=str(onnx_file), output=str(tmp_path / "again.onnx"), export="onnx")
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    with pytest.raises(FastNSTError, match="cannot load ONNX model"):
        Stylizer.from_checkpoint(tmp_path / "bad.onnx")
