"""Inference cost of the transform networks: parameters, FLOPs and CPU ms per frame.

    python scripts/benchmark_models.py            # johnson vs johnson_small vs johnson_fast
    python scripts/benchmark_models.py --size 512 --models johnson johnson_small

Each network is built from its ``configs/model/<name>.yaml`` (defaults resolved). FLOPs are
counted by
``torch.utils.flop_counter`` for one RGB frame of ``--size`` px (a multiply-add is 2 FLOPs);
milliseconds are the median of ``--repeats`` eval-mode, no-grad forward passes, fp32, in
channels_last, timed by ``torch.utils.benchmark.Timer`` (which warms up first). Prints a
Markdown table and writes JSON.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from benchmark_stylize import preset
from benchmark_train import write_report
from torch.utils.benchmark import Timer
from torch.utils.flop_counter import FlopCounterMode

from fastnst.device import describe_device


def measure(name: str, size: int, repeats: int) -> dict[str, float]:
    model = preset(name).eval()
    frame = torch.rand(1, 3, size, size)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(frame)
    model = model.to(memory_format=torch.channels_last)
    frame = frame.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        timer = Timer("model(frame)", globals={"model": model, "frame": frame})
        seconds = timer.timeit(repeats).median  # torch.utils.benchmark warms up first
    return {
        "model": name,
        "params_m": sum(p.numel() for p in model.parameters()) / 1e6,
        "gflops": counter.get_total_flops() / 1e9,
        "cpu_ms": 1e3 * seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--models", nargs="+", default=["johnson", "johnson_small", "johnson_fast"])
    parser.add_argument("--size", type=int, default=512, help="square frame side, px")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--json", type=Path, default=Path("outputs/benchmark_models.json"))
    args = parser.parse_args()
    rows = [measure(name, args.size, args.repeats) for name in args.models]
    report = {"machine": describe_device("cpu"), "torch": torch.__version__, "size": args.size,
              "models": rows}  # fmt: skip
    lines = [
        f"| {r['model']} | {r['params_m']:.2f} M | {r['gflops']:.1f} | {r['cpu_ms']:.0f} "
        f"| {1e3 / r['cpu_ms']:.1f} |"
        for r in rows
    ]
    header = "| model | parameters | GFLOPs / frame | CPU ms / frame | frames/s |"
    write_report(report, args.json, f"{args.size}x{args.size} px frame", header, lines)


if __name__ == "__main__":
    main()
