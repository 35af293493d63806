"""Johnson et al.'s Torch7 models load as Johnson2016Net and compute what their Lua network does.

The files are written in the real Torch7 binary format (``tests/torch7_writer.py``) with random
weights; the reference below runs the Lua modules' ``updateOutput`` on the writer's objects (not
on what the loader parsed), with ``preprocess.lua``'s vgg pre- and deprocessing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from numerics import assert_close_fp32
from torch7_writer import T7Object, checkpoint, johnson_model, module, save_t7

from fastnst import FastNSTError, Stylizer
from fastnst.inference.export import export_model
from fastnst.models import build_model
from fastnst.models.checkpoint import checkpoint_entry, load_style_checkpoint
from fastnst.models.interop.torch7 import load_torch7_model

pytest.importorskip("torchfile")

VGG_MEAN = torch.tensor([103.939, 116.779, 123.68], dtype=torch.float64).view(1, 3, 1, 1)
DEPTH = 16  # 3 encoder convs, 10 residual convs, 2 transposed, the output conv


def lua_forward(m: T7Object, x: torch.Tensor | list) -> torch.Tensor | list:
    """``m:forward(x)`` in evaluate mode, module by module as the Lua classes compute it."""
    f, cls = m.fields, m.cls.removeprefix("nn.")
    t = {k: torch.from_numpy(np.asarray(v, np.float64)) for k, v in f.items()
         if isinstance(v, np.ndarray) and v.size}  # fmt: skip
    if cls == "Sequential":
        for child in f["modules"]:
            x = lua_forward(child, x)
        return x
    if cls == "ConcatTable":
        return [lua_forward(child, x) for child in f["modules"]]
    if cls == "CAddTable":
        return x[0] + x[1]
    if cls == "SpatialReflectionPadding":
        return F.pad(x, (f["pad_l"], f["pad_r"], f["pad_t"], f["pad_b"]), mode="reflect")
    if cls == "SpatialConvolution":
        return F.conv2d(x, t["weight"], t["bias"], (f["dH"], f["dW"]), (f["padH"], f["padW"]))
    if cls == "SpatialFullConvolution":
        stride, pad, adj = (f["dH"], f["dW"]), (f["padH"], f["padW"]), (f["adjH"], f["adjW"])
        return F.conv_transpose2d(x, t["weight"], t["bias"], stride, pad, adj)
    c = (1, -1, 1, 1)
    if cls == "SpatialBatchNormalization":  # evaluate(): running statistics
        invstd = t["running_std"] if "running_std" in t else (t["running_var"] + f["eps"]) ** -0.5
        x = (x - t["running_mean"].view(c)) * invstd.view(c)
        return x * t["weight"].view(c) + t["bias"].view(c)
    if cls == "InstanceNormalization":  # a training-mode batch norm over the (1, N*C, H, W) view
        n, ch, h, w = x.shape
        v = x.reshape(1, n * ch, h, w)
        mean, var = v.mean((0, 2, 3), keepdim=True), v.var((0, 2, 3), unbiased=False, keepdim=True)
        v = (v - mean) / (var + f["eps"]).sqrt()
        return v.view(n, ch, h, w) * t["weight"].view(c) + t["bias"].view(c)
    if cls == "ShaveImage":
        s = f["size"]
        return x[:, :, s : x.shape[2] - s, s : x.shape[3] - s]
    simple = {"ReLU": lambda: x.clamp(min=0), "Tanh": lambda: x.tanh(), "TotalVariation": lambda: x,
              "MulConstant": lambda: x * f.get("constant_scalar", 1)}  # fmt: skip
    return simple[cls]()


def their_stylize(model: T7Object, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """fast_neural_style.lua on a [0, 1] RGB image: (their 0-255 BGR output, deprocessed)."""
    pre = image.double()[:, [2, 1, 0]] * 255 - VGG_MEAN  # img:index(2, {3,2,1}):mul(255) - mean
    out = lua_forward(model, pre)
    return out, ((out + VGG_MEAN) / 255)[:, [2, 1, 0]]


CASES = {  # (norm, widths, dtype of the file's tensors, old running_std batch norms)
    "eccv16": ("batch", (32, 64, 128), np.float64, True),
    "instance_norm": ("instance", (16, 32, 64), np.float32, False),
    "batch_running_var": ("batch", (8, 16, 32), np.float32, False),
}


@pytest.mark.parametrize("case", CASES)
def test_loaded_network_computes_the_lua_network(tmp_path: Path, case: str) -> None:
    norm, widths, dtype, running_std = CASES[case]
    reference = johnson_model(norm, widths, dtype=dtype, running_std=running_std, seed=1)
    save_t7(tmp_path / "la_muse.t7", checkpoint(reference, norm))
    loaded = load_style_checkpoint(tmp_path / "la_muse.t7")
    assert loaded.styles == ["la_muse"] and loaded.arch == "johnson2016"
    assert loaded.model.config["norm"] == norm and loaded.model.config["encoder"] == list(widths)
    torch.manual_seed(0)
    for size in ((44, 48), (45, 53)):  # a multiple of 4, and odd sides (theirs gives 48 x 56)
        image = torch.rand(1, 3, *size)
        raw, expected = their_stylize(reference, image)
        assert raw.shape[-2:] == tuple(-(-s // 4) * 4 for s in size)
        assert 10 < raw.std() < 120, "the test network saturates its tanh"
        with torch.no_grad():
            ours = loaded.model(image)
        # in their 0-255 units; the kept pixels are theirs, the extra rows are cropped
        assert_close_fp32(ours * 255, expected[..., : size[0], : size[1]] * 255, depth=DEPTH,
                          what=f"{case} at {size}")  # fmt: skip


def test_median_filter_is_their_scripts(tmp_path: Path) -> None:
    reference = johnson_model("instance", (8, 16, 32), blocks=2, seed=2)
    save_t7(tmp_path / "candy.t7", checkpoint(reference, "instance"))
    model = load_torch7_model(tmp_path / "candy.t7", median_filter=3).model
    image = torch.rand(1, 3, 48, 52)
    _, out = their_stylize(reference, image)
    windows = np.lib.stride_tricks.sliding_window_view(out[0].numpy(), (3, 3), axis=(1, 2))
    expected = np.median(windows.reshape(*windows.shape[:3], 9), axis=-1)  # utils.median_filter
    with torch.no_grad():
        ours = model(image)[0, :, 1:-1, 1:-1]  # they keep only the interior
    assert_close_fp32(ours * 255, torch.from_numpy(expected) * 255, depth=DEPTH)


def test_rebuilds_from_its_config_and_stylizes_small_images(tmp_path: Path) -> None:
    save_t7(tmp_path / "udnie.t7", checkpoint(johnson_model("instance", (8, 16, 32)), "instance"))
    model = load_style_checkpoint(tmp_path / "udnie.t7").model
    rebuilt = build_model(model.arch, **model.config).eval()
    rebuilt.load_state_dict(model.state_dict())
    state = {f"transformer.{k}": v for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "fastnst": checkpoint_entry(model, ["udnie"], {})},
               tmp_path / "udnie.ckpt")  # fmt: skip
    again = load_style_checkpoint(tmp_path / "udnie.ckpt")
    image = torch.rand(1, 3, 23, 30)  # under their 40 px padding: the reflection repeats
    with torch.no_grad():
        out = model(image)
        assert torch.equal(rebuilt(image), out) and torch.equal(again.model(image), out)
    assert out.shape == image.shape and again.styles == ["udnie"]
    styled = Stylizer.from_checkpoint(tmp_path / "udnie.t7", device="cpu", backend="torch")(image)
    assert torch.allclose(styled, out.clamp(0, 1), atol=1e-6)


@pytest.mark.slow
def test_onnx_export_runs_their_network(tmp_path: Path) -> None:
    """The export computes the network itself at any size: its own padding stays symbolic, so
    the export wrapper does not pad the image first (it does for TransformerNet)."""
    ort = pytest.importorskip("onnxruntime")
    save_t7(tmp_path / "mosaic.t7", checkpoint(johnson_model("instance", (8, 16, 32)), "instance"))
    model = load_style_checkpoint(tmp_path / "mosaic.t7").model
    session = ort.InferenceSession(str(export_model(model, tmp_path / "mosaic.onnx", "onnx")))
    for size in ((48, 64), (45, 53)):
        image = torch.rand(1, 3, *size)
        (ours,) = session.run(None, {"image": image.numpy()})
        with torch.no_grad():
            expected = model(image).clamp(0, 1)
        assert_close_fp32(torch.from_numpy(ours), expected, depth=DEPTH, what=f"{size}")


def _edit(model: T7Object, index: int, replacement: T7Object) -> T7Object:
    model.fields["modules"][index] = replacement
    return model


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    def write(name: str, value: object) -> Path:
        save_t7(tmp_path / name, value)
        return tmp_path / name

    def model() -> T7Object:
        return johnson_model("instance", (8, 16, 32), blocks=1)

    upsample = module("nn.SpatialUpSamplingNearest", scale_factor=2)
    wide = model()
    wide.fields["modules"][1].fields["weight"] = np.zeros((8, 3, 5, 5), np.float32)
    (tmp_path / "junk.t7").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    whole = write("whole.t7", checkpoint(model(), "x")).read_bytes()
    (tmp_path / "cut.t7").write_bytes(whole[:5000])
    return {
        "unmapped": (write("u.t7", checkpoint(_edit(model(), 3, upsample), "x")),
                     r"layer \(4\) is nn.SpatialUpSamplingNearest, a layer type fastnst does "
                     "not map"),
        "misplaced": (write("m.t7", checkpoint(_edit(model(), 1, module("nn.Tanh")), "x")),
                      r"expected a 9x9 convolution, stride 1, pad 4, found layer \(2\) nn.Tanh"),
        "shape": (write("s.t7", checkpoint(wide, "x")), r"layer \(2\) nn.SpatialConvolution weight "
                  r"has shape \(8, 3, 5, 5\), the network there needs \(8, 3, 9, 9\)"),
        "no model": (write("n.t7", {"opt": {}}), "a Torch7 table without a 'model' entry"),
        "not torch7": (tmp_path / "junk.t7", "cannot read .* as a Torch7 file"),
        "truncated": (tmp_path / "cut.t7", "cannot read .* as a Torch7 file"),
    }  # fmt: skip


def test_bad_files_are_one_line_errors(tmp_path: Path) -> None:
    for name, (path, message) in _bad_files(tmp_path).items():
        with pytest.raises(FastNSTError, match=message) as error:
            load_style_checkpoint(path)
        assert "\n" not in str(error.value) and str(path) in str(error.value), name
