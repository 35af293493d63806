"""Stylize time of each catalogue model's network at 512 px and 1080p, fp32 and the fastest
accurate path, on this machine.

    python scripts/benchmark_pretrained.py                       # both sizes, ~10 min on 2 cores
    python scripts/benchmark_pretrained.py --sizes 64 --repeats 1 --out /tmp/p.json   # smallest

Weights do not change the speed, so every network is built with random weights (seed 0) in
the shape its published file loads into (``src/fastnst/models/catalog.json``; no download):
pytorch/examples and the ONNX zoo (one network), Johnson et al.'s eccv16 (batch norm, 32/64/128)
and instance_norm (16/32/64) Torch7 networks, pytorch-AdaIN (``vgg_normalised`` encoder, the
painting's statistics computed once, as ``Stylizer`` does) and Magenta's Monet (10 styles) and
Varied (32) networks. Paths, each through :class:`~fastnst.Stylizer` as a user runs it:

- ``fp32``: ``backend="torch", precision="fp32"``;
- ``auto``: ``backend="torch", precision="auto"`` (bf16 where the start-up probe finds it
  accurate and faster: what ``stylize.py`` runs for one image);
- ``onnxruntime``: ``backend="onnxruntime"`` (what ``stylize.py`` runs for folders and videos
  on a CPU; exported once, the export is not timed).

``backend=compile`` is left out: it compiles for tens of seconds at every new size
(docs/speed.md times it). Each time is the median of ``--repeats`` calls after one warm-up
call. Prints a Markdown table and writes JSON atomically.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from fastnst import Stylizer
from fastnst.device import describe_device
from fastnst.errors import FastNSTError
from fastnst.io.atomic import write_json
from fastnst.models import build_model

SIZES = {"512": (512, 512), "1080p": (1080, 1920), "64": (64, 64)}
PATHS = {
    "fp32": {"backend": "torch", "precision": "fp32"},
    "auto": {"backend": "torch", "precision": "auto"},
    "onnxruntime": {"backend": "onnxruntime"},
}


def networks() -> dict[str, tuple[str, Callable[[], nn.Module], dict]]:
    """Catalogue names -> (their network, a builder, Stylizer options)."""
    painting = torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(1))
    johnson = {"width": 32, "num_residual_blocks": 5, "head": "none"}
    cin = {**johnson, "head": "sigmoid"}
    return {
        "candy, mosaic, ... (+ onnx_*)": ("johnson", lambda: build_model("johnson", **johnson), {}),
        "johnson_eccv16_*": ("johnson2016", lambda: build_model("johnson2016"), {}),
        "johnson_* (instance norm)": ("johnson2016", lambda: build_model(
            "johnson2016", encoder=(16, 32, 64), decoder=(32, 16), norm="instance"), {}),
        "adain": ("adain", lambda: build_model("adain", encoder="vgg_normalised", unbiased=True),
                  {"style_image": painting}),
        "magenta_monet": ("johnson", lambda: build_model("johnson", **cin, num_styles=10),
                          {"style": 3}),
        "magenta_varied": ("johnson", lambda: build_model("johnson", **cin, num_styles=32),
                           {"style": 3}),
    }  # fmt: skip


def time_call(stylizer: Stylizer, image: torch.Tensor, repeats: int) -> float:
    """Median seconds of ``repeats`` calls after a warm-up call."""
    stylizer(image)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        stylizer(image)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(args: argparse.Namespace) -> list[dict]:
    rows = []
    for name, (arch, build, options) in networks().items():
        torch.manual_seed(0)
        model = build().eval()
        for size in args.sizes:
            image = torch.rand(1, 3, *SIZES[size], generator=torch.Generator().manual_seed(0))
            row = {"models": name, "arch": arch, "size": size}
            for path in args.paths:
                try:
                    stylizer = Stylizer(model, device="cpu", **PATHS[path], **options)
                except FastNSTError as err:  # AdaIN runs in PyTorch only
                    row[f"{path}_s"], row[f"{path}_skipped"] = None, str(err)
                    continue
                row[f"{path}_s"] = time_call(stylizer, image, args.repeats)
                if path == "auto":
                    row["auto_ran"] = str(stylizer.precision_choice)
            rows.append(row)
            print(format_row(row, args.paths), flush=True)
    return rows


def format_row(row: dict, paths: list[str]) -> str:
    times = " | ".join("-" if row[f"{p}_s"] is None else f"{row[f'{p}_s'] * 1000:.0f}"
                       for p in paths)  # fmt: skip
    return f"| {row['models']} | {row['size']} | {times} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["512", "1080p"], choices=sorted(SIZES))
    parser.add_argument("--paths", nargs="+", default=list(PATHS), choices=list(PATHS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("outputs/benchmarks/pretrained_cpu.json"))
    args = parser.parse_args()
    print(f"{describe_device('cpu')}; random weights (speed does not depend on them)")
    print(f"| models | size | {' | '.join(f'{p} ms' for p in args.paths)} |")
    print("|---|---|" + "---:|" * len(args.paths))
    rows = measure(args)
    write_json(args.out, {"device": describe_device("cpu"), "rows": rows})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
