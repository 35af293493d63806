"""Reduced precision: the autocast wrapper, the probe that decides, and the stylizer's use."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest
import torch
from PIL import Image
from test_stylize import save_checkpoint
from torch import nn

import fastnst.inference.precision as precision
from fastnst import FastNSTError
from fastnst.inference.command import run
from fastnst.inference.precision import (
    ReducedPrecision,
    choose_precision,
    psnr,
    reduced_type,
)
from fastnst.inference.stylizer import Stylizer
from fastnst.models import TransformerNet

CPU = torch.device("cpu")


def small_net(num_styles: int = 1) -> TransformerNet:
    torch.manual_seed(0)
    return TransformerNet(width=8, num_residual_blocks=1, num_styles=num_styles).eval()


def output_dtypes(model: nn.Module, x: torch.Tensor, *args: torch.Tensor) -> list[torch.dtype]:
    """The dtype of every convolution's output in one call of ``model``."""
    seen: list[torch.dtype] = []
    hooks = [
        m.register_forward_hook(lambda _m, _i, out: seen.append(out.dtype))
        for m in model.modules()
        if isinstance(m, nn.Conv2d)
    ]
    with torch.no_grad():
        model(x, *args)
    for hook in hooks:
        hook.remove()
    return seen


def test_psnr_of_a_hand_computed_error() -> None:
    reference = torch.zeros(1, 3, 4, 4)
    assert psnr(reference + 0.01, reference) == pytest.approx(40.0)  # mse 1e-4
    assert psnr(reference, reference) == math.inf


def test_reduced_network_runs_its_convolutions_in_bf16_and_returns_fp32() -> None:
    model, x = small_net(), torch.rand(1, 3, 24, 24)
    reduced = ReducedPrecision(model, torch.bfloat16)
    assert set(output_dtypes(reduced, x)) == {torch.bfloat16}
    y = reduced(x)
    assert y.dtype == torch.float32 and y.shape == x.shape
    assert psnr(y.clamp(0, 1), model(x).detach().clamp(0, 1)) > 25  # bf16 has 8 mantissa bits
    assert model.net[-1].__class__.__name__ == "ConvLayer"  # the original is not touched


def test_output_layer_can_stay_in_fp32() -> None:
    model, x = small_net(), torch.rand(1, 3, 24, 24)
    dtypes = output_dtypes(ReducedPrecision(model, torch.bfloat16, output_fp32=True), x)
    assert dtypes[-1] == torch.float32 and set(dtypes[:-1]) == {torch.bfloat16}


def test_multi_style_networks_take_their_weights_through_the_wrapper() -> None:
    model, x = small_net(num_styles=3), torch.rand(2, 3, 16, 16)
    weights = torch.tensor([[1.0, 0, 0], [0, 0, 1.0]])
    reduced = ReducedPrecision(model, torch.bfloat16)
    assert psnr(reduced(x, weights).clamp(0, 1), model(x, weights).detach().clamp(0, 1)) > 25


def test_fp32_is_the_network_itself() -> None:
    model = small_net()
    chosen, choice = choose_precision(model, "fp32", CPU)
    assert chosen is model and choice.precision == "fp32" and str(choice) == "fp32"


def test_auto_means_bf16_on_a_cpu_and_fp16_on_cuda() -> None:
    assert reduced_type("auto", CPU) == "bf16"
    assert reduced_type("auto", torch.device("cuda")) == "fp16"
    assert reduced_type("fp16", CPU) == "fp16"


def test_an_inaccurate_network_is_retried_with_an_fp32_output_layer(monkeypatch) -> None:
    found = iter([12.0, 55.0])  # the all-bf16 probe fails (the oneDNN case), the second passes
    monkeypatch.setattr(precision, "psnr", lambda y, ref: next(found))
    reduced, choice = choose_precision(small_net(), "bf16", CPU)
    assert choice.output_fp32 and choice.psnr == 55.0
    assert "fp32 output layer" in str(choice) and "55 dB" in str(choice)
    assert isinstance(reduced.model.net[-1], precision.Float32)


def test_explicit_bf16_that_fails_the_probe_is_a_one_line_error(monkeypatch) -> None:
    monkeypatch.setattr(precision, "psnr", lambda y, ref: 6.0)
    with pytest.raises(FastNSTError, match=r"precision=bf16 is inaccurate.*6 dB.*precision=fp32"):
        choose_precision(small_net(), "bf16", CPU)
    model = small_net()
    chosen, choice = choose_precision(model, "auto", CPU)
    assert chosen is model and choice.precision == "fp32" and "inaccurate" in str(choice)


@pytest.mark.parametrize(("speedup", "expected"), [(0.8, "fp32"), (2.0, "bf16")])
def test_auto_keeps_fp32_unless_the_reduced_network_is_faster(
    monkeypatch, speedup: float, expected: str
) -> None:
    monkeypatch.setattr(precision, "psnr", lambda y, ref: 50.0)
    monkeypatch.setattr(
        precision, "seconds_per_call",
        lambda model, x, args, **_: 1.0 / speedup if isinstance(model, ReducedPrecision) else 1.0,
    )  # fmt: skip
    _, choice = choose_precision(small_net(), "auto", CPU)
    assert choice.precision == expected and choice.speedup == pytest.approx(speedup)


def test_other_networks_stay_fp32_or_are_refused() -> None:
    other = nn.Conv2d(3, 3, 1)
    assert choose_precision(other, "auto", CPU)[0] is other
    with pytest.raises(FastNSTError, match="transform networks.*precision=fp32"):
        choose_precision(other, "bf16", CPU)
    with pytest.raises(FastNSTError, match="unknown precision=half"):
        choose_precision(other, "half", CPU)


def test_stylizer_in_bf16_matches_fp32_closely_on_both_pytorch_backends(monkeypatch) -> None:
    monkeypatch.setattr(precision, "MIN_PSNR", 30.0)  # a random 8-channel net: ~43 dB here
    model, x = small_net(), torch.rand(1, 3, 21, 19)
    exact = Stylizer(small_net(), device="cpu", backend="torch")(x)
    for backend in ("torch", "compile"):
        stylizer = Stylizer(model, device="cpu", backend=backend, precision="bf16")
        assert stylizer.precision_choice.precision == "bf16"
        assert psnr(stylizer(x), exact) > 25
    assert Stylizer(small_net(), device="cpu", backend="torch").precision_choice.precision == "fp32"


def test_stylizer_refuses_bf16_where_it_cannot_run(tmp_path: Path) -> None:
    with pytest.raises(FastNSTError, match="precision=bf16 runs untiled.*tiled"):
        Stylizer(small_net(), device="cpu", backend="torch", tile=128, precision="bf16")
    with pytest.raises(FastNSTError, match="not onnxruntime"):
        Stylizer(small_net(), device="cpu", backend="onnxruntime", precision="bf16")
    tiled = Stylizer(small_net(), device="cpu", backend="torch", tile=128, precision="auto")
    assert str(tiled.precision_choice) == "fp32 (tiled runs fp32)"


def test_auto_backend_stays_on_onnxruntime_unless_bf16_is_asked_for(monkeypatch) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    monkeypatch.setattr(precision, "MIN_PSNR", 30.0)
    auto = Stylizer(small_net(), device="cpu", backend="auto", precision="auto")
    assert auto.backend == "onnxruntime"
    assert str(auto.precision_choice) == "fp32 (onnxruntime runs fp32)"
    asked = Stylizer(small_net(), device="cpu", backend="auto", precision="bf16")
    assert asked.backend == "torch" and asked.precision_choice.precision == "bf16"


def test_stylize_command_says_what_precision_ran(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(precision, "MIN_PSNR", 30.0)
    ckpt = save_checkpoint(small_net(), tmp_path / "net.ckpt")
    photo = tmp_path / "photo.png"
    Image.new("RGB", (20, 12), (200, 30, 90)).save(photo)
    report = run(ckpt=str(ckpt), input=str(photo), output=str(tmp_path / "out.png"),
                 precision="bf16", backend="torch")  # fmt: skip
    assert "ran in bf16 (" in str(report) and "dB PSNR against fp32" in str(report)
    assert (tmp_path / "out.png").is_file()


def test_timing_gives_up_after_a_slow_warm_up() -> None:
    calls = []

    def slow(x: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        time.sleep(0.02)
        return x

    x = torch.zeros(1)
    assert precision.seconds_per_call(slow, x, (), give_up=0.005) >= 0.02 and len(calls) == 1
    assert precision.seconds_per_call(slow, x, (), repeats=2) >= 0.02 and len(calls) == 4


def test_a_device_without_the_reduced_type_keeps_fp32_or_says_so(monkeypatch) -> None:
    def unsupported(self, x, *args):
        raise RuntimeError("autocast: bf16 is not supported on this device")

    monkeypatch.setattr(ReducedPrecision, "forward", unsupported)
    model = small_net()
    chosen, choice = choose_precision(model, "auto", CPU)
    assert chosen is model and str(choice) == "fp32 (no bf16 here)"
    with pytest.raises(FastNSTError, match="precision=bf16 does not run on cpu.*precision=fp32"):
        choose_precision(model, "bf16", CPU)
