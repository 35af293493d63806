"""Benchmark tables name the machine they were measured on."""

from __future__ import annotations

import torch

from fastnst.device import describe_device


def test_cpu_description_names_threads_and_model() -> None:
    text = describe_device("cpu")
    assert text.startswith(f"{torch.get_num_threads()}-thread CPU, ")
    assert len(text) > len(f"{torch.get_num_threads()}-thread CPU, ")
