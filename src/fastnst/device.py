"""Where code runs and how long it takes: device choice, synchronization, machine description."""

from __future__ import annotations

import platform
from pathlib import Path

import torch

from fastnst.errors import FastNSTError


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """The torch device of a ``device=`` option.

    ``"auto"`` is the current accelerator (CUDA, MPS, XPU, ... as ``torch.accelerator`` reports
    it) when there is one, else the CPU. Any other name torch knows (``cpu``, ``cuda:1``, ``mps``)
    is accepted when that device is present.

    Raises:
        FastNSTError: The name is not a torch device, or that device is not available here.
    """
    if str(device) == "auto":
        accelerator = torch.accelerator.current_accelerator(check_available=True)
        return accelerator or torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise FastNSTError(
            f"unknown device={device}; use auto, cpu, cuda, cuda:N, mps, ..."
        ) from err
    if resolved.type == "cpu":
        return resolved
    accelerator = torch.accelerator.current_accelerator(check_available=True)
    if accelerator is None or accelerator.type != resolved.type:
        found = accelerator.type if accelerator is not None else "none"
        raise FastNSTError(
            f"device={device} is not available on this machine (accelerator found: {found}); "
            "use device=auto or device=cpu"
        )
    if resolved.index is not None and resolved.index >= torch.accelerator.device_count():
        count = torch.accelerator.device_count()
        raise FastNSTError(f"device={device} does not exist: {count} {resolved.type} device(s)")
    return resolved


def synchronize(device: str | torch.device) -> None:
    """Wait for the work queued on ``device`` (a no-op on the CPU), so timings are honest."""
    device = torch.device(device)
    if device.type != "cpu" and torch.accelerator.is_available():
        torch.accelerator.synchronize(device)


def describe_device(device: str | torch.device) -> str:
    """The GPU's name, or ``"<threads>-thread CPU, <model name from /proc/cpuinfo>"``."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type != "cpu":
        return device.type
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.is_file() else []
    models = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    cpu = models[0] if models else platform.processor() or "unknown CPU"
    return f"{torch.get_num_threads()}-thread CPU, {cpu}"
