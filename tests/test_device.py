"""Device choice through ``torch.accelerator``, and the machine description benchmarks print."""

from __future__ import annotations

import pytest
import torch

from fastnst.device import describe_device, resolve_device, synchronize
from fastnst.errors import FastNSTError

HAS_ACCELERATOR = torch.accelerator.is_available()
ACCELERATOR = torch.accelerator.current_accelerator(check_available=True)


def test_cpu_is_always_there() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    synchronize("cpu")  # a no-op, never an error


def test_auto_is_the_accelerator_or_the_cpu() -> None:
    expected = ACCELERATOR if ACCELERATOR is not None else torch.device("cpu")
    assert resolve_device("auto") == expected
    assert resolve_device() == expected


@pytest.mark.skipif(HAS_ACCELERATOR, reason="this machine has an accelerator")
def test_auto_on_a_machine_without_accelerator_is_cpu() -> None:
    assert resolve_device("auto") == torch.device("cpu")


@pytest.mark.parametrize("name", ["mps", "cuda", "cuda:1", "xpu"])
def test_absent_accelerators_are_one_line_errors(name: str) -> None:
    wanted = torch.device(name)
    same_kind = ACCELERATOR is not None and ACCELERATOR.type == wanted.type
    if same_kind and (wanted.index or 0) < torch.accelerator.device_count():
        pytest.skip(f"{name} is available here")
    with pytest.raises(FastNSTError) as info:
        resolve_device(name)
    message = str(info.value)
    assert message.startswith(f"device={name} ")
    assert "not available" in message or "does not exist" in message
    assert "device=cpu" in message or "device(s)" in message
    assert "\n" not in message


@pytest.mark.parametrize("name", ["bogus", "cuda:x", ""])
def test_unknown_device_names_are_one_line_errors(name: str) -> None:
    with pytest.raises(FastNSTError) as info:
        resolve_device(name)
    message = str(info.value)
    assert message.startswith(f"unknown device={name};")
    assert "auto, cpu, cuda" in message
    assert "\n" not in message


def test_cpu_description_names_threads_and_model() -> None:
    text = describe_device("cpu")
    assert text.startswith(f"{torch.get_num_threads()}-thread CPU, ")
    assert len(text) > len(f"{torch.get_num_threads()}-thread CPU, ")
