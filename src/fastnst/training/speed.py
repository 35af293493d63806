"""Pick the training speed options by what this machine does, not by its flags.

Whether bf16 autocast pays on a CPU depends on the chip: on a 2-core AMD EPYC with AVX512-BF16
it ran the training step 1.74x faster than fp32, on a 2-core Intel Xeon with the same flag
0.99x, and on a 2-core AMD EPYC with AVX2 only, a bf16 convolution ran 10 to 30x *slower*
(emulated). :func:`bf16_speedup` measures it in about two seconds on a small convolution
stack, so a preset can say ``trainer.precision=auto``.
"""

from __future__ import annotations

import logging
import time

import torch
from torch import nn

from fastnst.device import synchronize

log = logging.getLogger(__name__)
MIN_BF16_SPEEDUP = 1.15  # below this, fp32 keeps its precision for little loss of speed


def _step_seconds(
    model: nn.Module, x: torch.Tensor, dtype: torch.dtype | None, repeats: int
) -> float:
    """Best time of a forward + backward pass, optionally under autocast to ``dtype``."""
    best = float("inf")
    for _ in range(repeats + 1):  # the first pass is a warm-up, timed too
        synchronize(x.device)
        start = time.perf_counter()
        with torch.autocast(x.device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = model(x).float().square().mean()
        loss.backward()
        synchronize(x.device)
        best = min(best, time.perf_counter() - start)
    return best


def bf16_speedup(
    device: torch.device, *, channels: int = 64, size: int = 64, repeats: int = 2
) -> float:
    """fp32 time / bf16-autocast time of a small 3x3 conv stack's training pass on ``device``."""
    generator = torch.Generator().manual_seed(0)
    model = nn.Sequential(*(nn.Conv2d(channels, channels, 3, padding=1) for _ in range(4)))
    model = model.to(device)
    x = torch.randn(4, channels, size, size, generator=generator).to(device)
    fp32 = _step_seconds(model, x, None, repeats)
    first = _step_seconds(model, x, torch.bfloat16, 0)
    if first > 2 * fp32:  # emulated bf16 is 10x slower or worse: one pass says enough
        return fp32 / first
    return fp32 / _step_seconds(model, x, torch.bfloat16, repeats)


def auto_precision(accelerator: str) -> str:
    """``"bf16-mixed"`` where bf16 autocast measurably pays on this machine, else ``"32-true"``.

    On CUDA, bf16 is chosen when the GPU supports it (Ampere and later); elsewhere the probe
    above decides. The choice and the measured ratio are logged.
    """
    if accelerator in ("gpu", "cuda") and torch.cuda.is_available():
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    speedup = bf16_speedup(torch.device("cpu"))
    choice = "bf16-mixed" if speedup >= MIN_BF16_SPEEDUP else "32-true"
    log.info("trainer.precision=auto: bf16 autocast runs %.2fx fp32 here -> %s", speedup, choice)
    return choice
