"""Reduced precision for inference, chosen by a probe: bf16 on a CPU, fp16 on CUDA.

``precision="bf16"`` (or ``"fp16"``) runs the transform network under ``torch.autocast``: its
convolutions in the reduced type (bf16 keeps fp32's range with an 8-bit mantissa), instance
norms in fp32 (autocast's rule), the output in fp32. On a CPU with AMX the convolutions then
run on the matrix units: ``scripts/benchmark_stylize.py`` measured ``johnson`` compiled in bf16
at 1.9-2.6x its compiled fp32 speed on our 2-core Xeon.

Neither flag nor speed can be taken on trust, so the reduced network is probed on first use,
on a smooth ``PROBE_SIZE`` px image, against fp32:

- **Accuracy.** The PSNR of its [0, 1] output must be at least ``MIN_PSNR`` dB (a JPEG at
  quality 95 is about 40 dB from its source); trained networks give 53-59 dB
  (``scripts/precision_accuracy.py``). On our Xeon, oneDNN (torch 2.14) computes some
  small-channel bf16 convolutions wrongly (16 or 24 input channels with stride 4 and a kernel
  of 4 or more, 8 with stride 1 and a kernel of 8 or more: relative error above 1). The CPU
  stylizer's blocked output layer of ``johnson_small`` is one; such a network fails the
  probe, is probed again with its output layer in fp32 (the layer that writes pixels), and
  runs that way if it passes.
- **Speed** (``precision="auto"`` only): the reduced network must run at least
  ``MIN_SPEEDUP`` times as fast as the fp32 one at the probe size, else fp32 stays. An
  earlier host with the same CPU model string ran bf16 at 0.8-1.0x of fp32.

An explicit ``"bf16"`` / ``"fp16"`` that fails the accuracy probe is an error; ``"auto"`` falls
back to fp32 and says why in :attr:`PrecisionChoice.reason`.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fastnst.device import synchronize
from fastnst.errors import FastNSTError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
MIN_PSNR = 40.0
MIN_SPEEDUP = 1.2
PROBE_SIZE = 192


@dataclass(frozen=True)
class PrecisionChoice:
    """What the probe chose: ``precision`` runs (``"fp32"``, ``"bf16"`` or ``"fp16"``), with the
    output layer in fp32 when ``output_fp32``; ``psnr`` (dB) and ``speedup`` (over fp32, only
    timed for ``"auto"``) as measured; ``reason`` says why, in words."""

    precision: str
    output_fp32: bool = False
    psnr: float | None = None
    speedup: float | None = None
    reason: str = ""

    def __str__(self) -> str:
        if self.precision == "fp32":
            return "fp32" if self.reason in ("", "asked for") else f"fp32 ({self.reason})"
        text = self.precision + (" with an fp32 output layer" if self.output_fp32 else "")
        text += f" ({self.psnr:.0f} dB PSNR against fp32 at the probe"
        return text + ("" if self.speedup is None else f", {self.speedup:.1f}x as fast") + ")"


class ReducedPrecision(nn.Module):
    """``model`` under ``torch.autocast`` to ``dtype`` (its output layer in fp32 when asked),
    returning fp32; the same call signature as ``model``.

    ``model`` is a transform network whose layers are ``model.net`` (every ``TransformerNet``,
    single- or multi-style); it is copied, not changed.
    """

    def __init__(self, model: nn.Module, dtype: torch.dtype, *, output_fp32: bool = False) -> None:
        super().__init__()
        self.model, self.dtype = copy.deepcopy(model), dtype
        if output_fp32:
            self.model.net[-1] = Float32(self.model.net[-1])

    def forward(self, x: Tensor, *args: Tensor) -> Tensor:
        with torch.autocast(x.device.type, dtype=self.dtype):
            return self.model(x, *args).float()


class Float32(nn.Module):
    """``layer`` with autocast switched off: fp32 in, fp32 out, inside a reduced network."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: Tensor, *args: Tensor) -> Tensor:
        with torch.autocast(x.device.type, enabled=False):
            return self.layer(x.float(), *args)


def check_precision(precision: str) -> None:
    """A one-line error for a ``precision`` that is none of ``PRECISIONS``."""
    if precision not in PRECISIONS:
        raise FastNSTError(f"unknown precision={precision}; use one of {', '.join(PRECISIONS)}")


def reduced_type(precision: str, device: torch.device) -> str:
    """The reduced type ``precision`` stands for on ``device``: ``"auto"`` is bf16 on a CPU and
    fp16 on CUDA (GPUs before Ampere have no fast bf16)."""
    if precision != "auto":
        return precision
    return "fp16" if device.type == "cuda" else "bf16"


def choose_precision(
    model: nn.Module, precision: str, device: torch.device, *, min_psnr: float | None = None
) -> tuple[nn.Module, PrecisionChoice]:
    """The network to run for ``precision`` on ``device`` and what the probe measured.

    ``model`` is in eval mode on ``device``. Returns ``model`` itself for fp32. ``min_psnr``
    replaces ``MIN_PSNR`` (for measuring scripts).

    Raises:
        FastNSTError: an explicit ``"bf16"`` / ``"fp16"`` for a network that is not a
            transform network, or that fails the accuracy probe.
    """
    check_precision(precision)
    if precision == "fp32":
        return model, PrecisionChoice("fp32", reason="asked for")
    kind = reduced_type(precision, device)
    if not isinstance(getattr(model, "net", None), nn.Sequential):
        if precision == "auto":
            return model, PrecisionChoice("fp32", reason="not a transform network")
        raise FastNSTError(
            f"precision={precision} runs transform networks (model=johnson and its family), "
            f"not {type(model).__name__}; use precision=fp32"
        )
    x, args = probe_input(model, device)
    min_psnr = MIN_PSNR if min_psnr is None else min_psnr
    with torch.no_grad():
        reference = model(x, *args).float().clamp(0, 1)
        for output_fp32 in (False, True):
            reduced = ReducedPrecision(model, DTYPES[kind], output_fp32=output_fp32)
            try:
                found = psnr(reduced(x, *args).clamp(0, 1), reference)
            except RuntimeError as error:  # autocast to this type unsupported on this device
                if precision == "auto":
                    return model, PrecisionChoice("fp32", reason=f"no {kind} here")
                first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
                raise FastNSTError(
                    f"precision={precision} does not run on {device}: {first_line}; use "
                    "precision=fp32"
                ) from error
            if found >= min_psnr:
                break
    if found < min_psnr:
        if precision == "auto":
            return model, PrecisionChoice("fp32", psnr=found, reason=f"{kind} inaccurate")
        raise FastNSTError(
            f"precision={precision} is inaccurate for this network on this machine: "
            f"{found:.0f} dB PSNR against fp32 at the {PROBE_SIZE} px probe (at least "
            f"{min_psnr:.0f} needed); use precision=fp32"
        )
    if precision != "auto":
        return reduced, PrecisionChoice(kind, output_fp32, found, reason="asked for")
    fp32 = seconds_per_call(model, x, args)
    speedup = fp32 / seconds_per_call(reduced, x, args, give_up=10 * fp32)
    if speedup < MIN_SPEEDUP:
        reason = f"{kind} only {speedup:.2f}x as fast"
        return model, PrecisionChoice("fp32", psnr=found, speedup=speedup, reason=reason)
    return reduced, PrecisionChoice(kind, output_fp32, found, speedup, reason="faster")


def probe_input(model: nn.Module, device: torch.device) -> tuple[Tensor, tuple[Tensor, ...]]:
    """A smooth, seeded PROBE_SIZE px image (a 12 x 12 noise upsampled: photo-like spectra, not
    white noise), and equal style weights for a multi-style network."""
    noise = torch.rand(1, 3, 12, 12, generator=torch.Generator().manual_seed(0))
    x = F.interpolate(noise, size=(PROBE_SIZE, PROBE_SIZE), mode="bicubic").clamp(0, 1)
    styles = int(getattr(model, "num_styles", 1))
    args = (torch.full((1, styles), 1 / styles, device=device),) if styles > 1 else ()
    return x.to(device), args


def psnr(y: Tensor, reference: Tensor) -> float:
    """Peak signal-to-noise ratio of ``y`` against ``reference``, both in [0, 1], in dB."""
    mse = (y.float() - reference.float()).square().mean().item()
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


@torch.no_grad()
def seconds_per_call(
    model: nn.Module, x: Tensor, args: tuple[Tensor, ...], repeats: int = 3,
    give_up: float | None = None,
) -> float:  # fmt: skip
    """Best of ``repeats`` timed calls of ``model(x, *args)`` after a warm-up call, or the
    warm-up's time if that took longer than ``give_up`` s (emulated bf16 runs 10-30x slower
    than fp32 on CPUs without it: no need to time it thrice)."""
    times = []
    for _ in range(repeats + 1):
        synchronize(x.device)
        start = time.perf_counter()
        model(x, *args)
        synchronize(x.device)
        times.append(time.perf_counter() - start)
        if give_up is not None and times[0] > give_up:
            return times[0]
    return min(times[1:])
