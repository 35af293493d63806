"""Inference speed of the transform network: eager fp32 vs channels_last vs torch.compile vs
ONNX Runtime (and fp16 on CUDA), at 256 px, 512 px and 1080p, in one run.

    python scripts/benchmark_stylize.py [--device cpu] [--sizes 256 512 1080p] [--repeats 3]
        [--min-time 0.2] [--ckpt last.ckpt] [--out outputs/benchmarks/stylize_cpu.json]

Every variant is timed on the same network and input as the plain eager fp32 baseline measured
in the same run, round-robin, by ``torch.utils.benchmark.Timer`` (which synchronizes CUDA and
keeps the thread count); the table gives ms per frame (each round is ``blocked_autorange``'s
median over at least ``--min-time`` s, enough calls for sub-millisecond variants; the best of
``--repeats`` rounds is kept, after a warm-up call that also absorbs compile time), frames per
second, the speed-up over the baseline, achieved GFLOP/s
(FLOPs counted by ``torch.utils.flop_counter``) and the max abs difference from the baseline's
output, both clamped to [0, 1] as every saved image is (a variant "matches" below 1e-3). The
weights do not change the speed, so without ``--ckpt`` a randomly initialised Johnson network
(width 32, 5 residual blocks) is used.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.benchmark import Timer
from torch.utils.flop_counter import FlopCounterMode

from fastnst import FastNSTError
from fastnst.device import describe_device
from fastnst.inference.runtime import cached_onnx_model
from fastnst.io.atomic import write_json
from fastnst.models import TransformerNet
from fastnst.models.checkpoint import load_style_checkpoint

SIZES = {"256": (256, 256), "512": (512, 512), "1080p": (1080, 1920)}
MATCH_TOL = 1e-3


def variants(model: TransformerNet, device: torch.device) -> dict[str, Callable]:
    """name -> function from a (1, 3, H, W) fp32 tensor on ``device`` to the output."""
    cl_model = _copy(model).to(memory_format=torch.channels_last)
    found: dict[str, Callable] = {
        "eager fp32": model,
        "channels_last": lambda x: cl_model(x.contiguous(memory_format=torch.channels_last)),
        "torch.compile": torch.compile(_copy(model), dynamic=False),  # a graph per size
    }
    if device.type == "cuda":
        half = _copy(model).half().to(memory_format=torch.channels_last)
        found["fp16 channels_last"] = lambda x: half(
            x.half().contiguous(memory_format=torch.channels_last)
        ).float()
    else:
        found.update(_onnxruntime(model))
    return found


def _copy(model: TransformerNet) -> TransformerNet:
    """A fresh network with the same weights, on the same device, in eval mode."""
    clone = TransformerNet(**model.config).to(next(model.parameters()).device)
    clone.load_state_dict(model.state_dict())
    return clone.eval()


def _onnxruntime(model: TransformerNet) -> dict[str, Callable]:
    """The ONNX export of ``model`` (from the export cache) run by ONNX Runtime's CPU provider,
    if installed."""
    try:
        return {"onnxruntime": cached_onnx_model(model)}
    except (ImportError, FastNSTError):
        print("onnxruntime not installed: skipping it (pip install 'fastnst[export]')")
        return {}


def timer(fn: Callable, x: torch.Tensor, size: str, name: str) -> Timer:
    """A ``Timer`` of one call ``fn(x)`` on all of PyTorch's threads (its default is one)."""
    return Timer(
        "fn(x)", globals={"fn": fn, "x": x}, num_threads=torch.get_num_threads(), label=size,
        description=name,
    )  # fmt: skip


def flops(model: TransformerNet, x: torch.Tensor) -> int:
    counter = FlopCounterMode(display=False)
    with counter:
        model(x)
    return counter.get_total_flops()


@torch.no_grad()
def benchmark(args: argparse.Namespace) -> dict:
    """Variants are timed round-robin (one call each per round, best round kept), so load from
    other processes hits every variant alike."""
    device = torch.device(args.device)
    model = load_style_checkpoint(args.ckpt).model if args.ckpt else TransformerNet()
    fns = variants(model.eval().to(device), device)
    rows = []
    for size in args.sizes:
        h, w = SIZES[size]
        x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0)).to(device)
        reference = model(x).float().cpu().clamp(0, 1)
        diffs = {  # the first call of each variant is also its warm-up (compilation etc.)
            name: (fn(x).float().cpu().clamp(0, 1) - reference).abs().max().item()
            for name, fn in fns.items()
        }
        timers = {name: timer(fn, x, size, name) for name, fn in fns.items()}
        best = dict.fromkeys(fns, float("inf"))
        for _ in range(args.repeats):
            for name, fn_timer in timers.items():  # in turn, so load hits all alike
                measured = fn_timer.blocked_autorange(min_run_time=args.min_time)
                best[name] = min(best[name], measured.median)
        count = flops(model, x)
        for name, seconds in best.items():
            rows.append({
                "size": size, "variant": name, "ms": seconds * 1e3, "fps": 1 / seconds,
                "speedup": best["eager fp32"] / seconds, "gflops": count / seconds / 1e9,
                "max_abs_diff": diffs[name], "matches": diffs[name] < MATCH_TOL,
            })  # fmt: skip
            print(_format(rows[-1]), flush=True)
    return {"machine": describe_device(device), "threads": torch.get_num_threads(), "rows": rows}


def _format(row: dict) -> str:
    return (
        f"| {row['size']:>5} | {row['variant']:<18} | {row['ms']:9.1f} | {row['fps']:7.2f} "
        f"| {row['speedup']:5.2f}x | {row['gflops']:7.1f} | {row['max_abs_diff']:.1e} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--min-time", type=float, default=0.2, help="s per variant per round")
    parser.add_argument("--ckpt", default=None, help="a checkpoint (default: random weights)")
    parser.add_argument("--out", type=Path, default=None, help="JSON file to write")
    args = parser.parse_args()
    print("| size  | variant            | ms/frame  |   fps   | ratio  | GFLOP/s | max diff |")
    print("|-------|--------------------|-----------|---------|--------|---------|----------|")
    result = benchmark(args)
    for size in args.sizes:
        fast = [r for r in result["rows"] if r["size"] == size and r["matches"]]
        print(f"{size}: fastest matching variant is {max(fast, key=lambda r: r['fps'])['variant']}")
    out = args.out or Path(f"outputs/benchmarks/stylize_{args.device.split(':')[0]}.json")
    write_json(out, result)
    print(f"machine: {result['machine']}; wrote {out}")


if __name__ == "__main__":
    main()
