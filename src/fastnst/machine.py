"""Name the machine a number was measured on, for benchmark tables and reports."""

from __future__ import annotations

import platform
from pathlib import Path

import torch


def describe_device(device: str | torch.device) -> str:
    """The GPU's name, or ``"<threads>-thread CPU, <model name from /proc/cpuinfo>"``."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.is_file() else []
    models = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    cpu = models[0] if models else platform.processor() or "unknown CPU"
    return f"{torch.get_num_threads()}-thread CPU, {cpu}"
