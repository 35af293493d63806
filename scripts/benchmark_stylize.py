"""Inference speed of every model preset on every runtime path, against pytorch/examples'
eager ``TransformerNet`` and the machine's own matrix-product rate, in one run.

    python scripts/benchmark_stylize.py                        # CPU: 512 px and 1080p, ~10 min
    python scripts/benchmark_stylize.py --sizes 512 --models johnson johnson_fast --variants \
        torch onnxruntime                                      # a quicker look
    python scripts/benchmark_stylize.py --device cuda          # on a GPU

Models: ``reference`` (pytorch/examples ``fast_neural_style``'s network, eager, as a user would
run it: ``scripts/reference_net.py``), the presets of ``configs/model/`` (``johnson``,
``johnson_small``, ``johnson_fast``) and ``peer_shaped``: the architecture of the fastest
Python package we know of, rebuilt from its description (32 channels at every encoder stage and
in the residual blocks, upsampling layers of 8 and 4 channels), to compare shapes on equal
footing. Weights do not change the speed: every network is randomly initialised (seed 0).

Variants of our networks (batch 1, fp32 unless named):

- ``eager``: the network as trained, NCHW: what every other variant is checked against.
- ``torch``: what ``Stylizer(backend="torch")`` runs on a CPU: the output layer computed 4 x 4
  pixels at a time and the upsampling stages as sub-pixel convolutions
  (:mod:`fastnst.models.fast_conv`, the same function), NCHW.
- ``channels_last``: the same in NHWC memory layout.
- ``compile``: ``torch.compile`` of the channels-last network with Inductor's ``freezing``
  (weights folded into the graph and pre-packed for oneDNN), one graph per size.
- ``onnxruntime``: the ONNX export (output layer folded too) on ONNX Runtime's CPU provider
  with all graph optimizations (``Stylizer(backend="onnxruntime")``, the CPU default).
- ``bf16``: what ``Stylizer(precision="bf16")`` runs (``"fp16"`` on CUDA): the channels-last
  network under autocast, as :func:`fastnst.inference.precision.choose_precision` picks it
  (its output layer in fp32 if the all-bf16 network fails the accuracy probe; random weights
  that fail both are timed all the same, with an fp32 output layer, and the script says so).
- ``compile_bf16``: that network compiled like ``compile`` (``backend=compile precision=bf16``).

Every runner is timed on the same input, round-robin with the others (so load from other
processes hits all alike), by ``torch.utils.benchmark.Timer``: each round is
``blocked_autorange``'s median over at least ``--min-time`` s, the best of ``--repeats``
rounds is kept, after a warm-up call that also absorbs export and compile time (its seconds
are ``first_call_s`` in the JSON). The matrix
product (``--matmul`` square fp32 ``torch.mm``) runs in the same rounds: its GFLOP/s is the
machine's rate against which each variant's achieved GFLOP/s (FLOPs counted by
``torch.utils.flop_counter`` on the eager network; a multiply-add is 2) is a fraction; the
same product in bf16 (fp16 on CUDA) is timed too, the rate the reduced variants could reach.
The max difference and the PSNR are from the eager network's output, both clamped to [0, 1]
as saved images are.
Prints a Markdown table and writes JSON atomically.
"""

from __future__ import annotations

import argparse
import copy
import math
import time
from collections.abc import Callable
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from reference_net import ExamplesTransformerNet
from torch import nn
from torch.utils.benchmark import Timer
from torch.utils.flop_counter import FlopCounterMode

from fastnst import FastNSTError
from fastnst.device import describe_device
from fastnst.inference.precision import (
    DTYPES,
    MIN_PSNR,
    ReducedPrecision,
    choose_precision,
    psnr,
    reduced_type,
)
from fastnst.inference.runtime import cached_onnx_model
from fastnst.io.atomic import write_json
from fastnst.models import TransformerNet
from fastnst.models.fast_conv import with_fast_convs

REPO = Path(__file__).resolve().parents[1]
SIZES = {"256": (256, 256), "512": (512, 512), "1080p": (1080, 1920)}
MODELS = ["reference", "johnson", "johnson_small", "johnson_fast", "peer_shaped"]
VARIANTS = ["eager", "torch", "channels_last", "compile", "onnxruntime", "bf16", "compile_bf16"]
MATCH_TOL = 1e-3


def preset(name: str) -> nn.Module:
    """A network of ``configs/model/<name>.yaml`` (its defaults resolved), random weights of
    seed 0: the same network at every size (the bf16 accuracy probe sees the same weights)."""
    torch.manual_seed(0)
    if name == "reference":
        return ExamplesTransformerNet()
    if name == "peer_shaped":
        return TransformerNet(encoder=[32, 32, 32], decoder=[8, 4])
    with initialize_config_dir(config_dir=str(REPO / "configs"), version_base="1.3"):
        return instantiate(compose(config_name="train", overrides=[f"model={name}"]).model)


def _nhwc(model: nn.Module) -> nn.Module:
    return copy.deepcopy(model).to(memory_format=torch.channels_last)


def _in_nhwc(model: nn.Module) -> Callable:
    """``model`` on channels-last inputs."""

    def run(x: torch.Tensor) -> torch.Tensor:
        return model(x.contiguous(memory_format=torch.channels_last)).float()

    return run


def _compiled(model: nn.Module) -> nn.Module:
    return torch.compile(model, dynamic=False, options={"freezing": True})


def _reduced(model: nn.Module, device: torch.device) -> nn.Module:
    """The channels-last reduced-precision network ``Stylizer(precision=...)`` would run; if
    these random weights fail its accuracy probe, the one with an fp32 output layer, timed all
    the same (trained networks are what the probe judges: scripts/precision_accuracy.py)."""
    kind = reduced_type("auto", device)
    try:
        reduced, choice = choose_precision(model, kind, device)
        print(f"{kind}: {choice}")
    except FastNSTError as error:
        print(f"{kind}: {error}; timed all the same, with an fp32 output layer")
        reduced = ReducedPrecision(model, DTYPES[kind], output_fp32=True)
    return reduced.to(memory_format=torch.channels_last)


def runners(model: nn.Module, device: torch.device, variants: list[str]) -> dict[str, Callable]:
    """variant -> function from a (1, 3, H, W) fp32 tensor on ``device`` to the output."""
    folded = with_fast_convs(model)
    reduced = _reduced(folded, device) if {"bf16", "compile_bf16"} & set(variants) else None
    made: dict[str, Callable[[], Callable | None]] = {
        "eager": lambda: model,
        "torch": lambda: folded,
        "channels_last": lambda: _in_nhwc(_nhwc(folded)),
        "compile": lambda: _in_nhwc(_compiled(_nhwc(folded))),
        "onnxruntime": lambda: _onnxruntime(model, device),
        "bf16": lambda: _in_nhwc(reduced),
        "compile_bf16": lambda: _in_nhwc(_compiled(reduced)),
    }
    found = {name: made[name]() for name in variants}
    return {name: runner for name, runner in found.items() if runner is not None}


def _onnxruntime(model: nn.Module, device: torch.device) -> Callable | None:
    """The cached ONNX export of ``model`` on ONNX Runtime's CPU provider, if installed."""
    if device.type != "cpu":
        return None
    try:
        return cached_onnx_model(model)
    except (ImportError, FastNSTError):
        print("onnxruntime not installed: skipping it (pip install 'fastnst[export]')")
        return None


def timer(fn: Callable, *args: torch.Tensor) -> Timer:
    """A ``Timer`` of one call ``fn(*args)`` on all of PyTorch's threads (its default is one)."""
    return Timer("fn(*args)", globals={"fn": fn, "args": args}, num_threads=torch.get_num_threads())


def count_flops(model: nn.Module, x: torch.Tensor) -> int:
    counter = FlopCounterMode(display=False)
    with counter:
        model(x)
    return counter.get_total_flops()


def _clamped(y: torch.Tensor) -> torch.Tensor:
    return y.float().cpu().clamp(0, 1)


@torch.no_grad()
def measure_size(args: argparse.Namespace, size: str, device: torch.device) -> list[dict]:
    """Rows of one size: every model x variant and the matrix product, timed round-robin."""
    h, w = SIZES[size]
    x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0)).to(device)
    n, low = args.matmul, torch.float16 if device.type == "cuda" else torch.bfloat16
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    timers = {("matmul", "fp32"): timer(torch.mm, a, b),
              ("matmul", "reduced"): timer(torch.mm, a.to(low), b.to(low))}  # fmt: skip
    info = {}
    for name in args.models:
        model = preset(name).eval().requires_grad_(False).to(device)
        flops, reference = count_flops(model, x), _clamped(model(x))
        chosen = ["eager"] if name == "reference" else args.variants
        for variant, fn in runners(model, device, chosen).items():
            start = time.perf_counter()
            y = _clamped(fn(x))  # also the warm-up: export or compile for those variants
            first_call = time.perf_counter() - start
            timers[name, variant] = timer(fn, x)
            info[name, variant] = {
                "gflop": flops / 1e9, "first_call_s": first_call,
                "max_abs_diff": (y - reference).abs().max().item(),
                "psnr": None if (db := psnr(y, reference)) == math.inf else db,
            }  # fmt: skip
    best = dict.fromkeys(timers, float("inf"))
    for _ in range(args.repeats):
        for key, fn_timer in timers.items():  # in turn, so load hits all alike
            median = fn_timer.blocked_autorange(min_run_time=args.min_time).median
            best[key] = min(best[key], median)
    matmul_rate = 2 * n**3 / best["matmul", "fp32"] / 1e9
    reduced_rate = 2 * n**3 / best["matmul", "reduced"] / 1e9
    base = best.get(("reference", "eager"))
    rows = []
    for (name, variant), seconds in best.items():
        if name == "matmul":
            continue
        gflops = info[name, variant]["gflop"] / seconds
        rows.append({
            "size": size, "model": name, "variant": variant, "ms": seconds * 1e3,
            "fps": 1 / seconds, "speedup": base / seconds if base else None,
            "gflop_per_frame": info[name, variant]["gflop"], "gflops": gflops,
            "matmul_fraction": gflops / matmul_rate, "matmul_gflops": matmul_rate,
            "reduced_matmul_gflops": reduced_rate,
            "first_call_s": info[name, variant]["first_call_s"],
            "max_abs_diff": info[name, variant]["max_abs_diff"],
            "psnr": info[name, variant]["psnr"],
            "matches": info[name, variant]["max_abs_diff"] < MATCH_TOL,
        })  # fmt: skip
    return rows


HEADER = (
    "| size | model | variant | ms/frame | frames/s | vs reference | GFLOP/s | of matmul "
    "| max diff | PSNR |\n|---|---|---|---|---|---|---|---|---|---|"
)


def format_row(row: dict) -> str:
    speedup = "" if row["speedup"] is None else f"{row['speedup']:.2f}x"
    quality = "exact" if row["psnr"] is None else f"{row['psnr']:.0f} dB"
    return (
        f"| {row['size']} | {row['model']} | {row['variant']} | {row['ms']:.1f} "
        f"| {row['fps']:.2f} | {speedup} | {row['gflops']:.0f} | "
        f"{100 * row['matmul_fraction']:.0f} % | {row['max_abs_diff']:.1e} | {quality} |"
    )


def summary(rows: list[dict]) -> list[str]:
    """Per size and model: the fastest variant whose output matches the eager network, and
    the fastest within ``MIN_PSNR`` dB of it (reduced precision) when that is another."""
    lines = []
    for size in dict.fromkeys(r["size"] for r in rows):
        first = next(r for r in rows if r["size"] == size)
        lines.append(
            f"{size}: matrix product {first['matmul_gflops']:.0f} GFLOP/s in fp32, "
            f"{first['reduced_matmul_gflops']:.0f} in reduced precision"
        )
        for model in dict.fromkeys(r["model"] for r in rows if r["size"] == size):
            mine = [r for r in rows if r["size"] == size and r["model"] == model]
            exact = max((r for r in mine if r["matches"]), key=lambda r: r["fps"])
            close = max(
                (r for r in mine if r["psnr"] is None or r["psnr"] >= MIN_PSNR),
                key=lambda r: r["fps"],
            )
            found = [("matching", exact)]
            if close is not exact:
                found.append((f">= {MIN_PSNR:.0f} dB", close))
            lines.append(f"  {model}: " + "; ".join(
                f"fastest {label} is {r['variant']} ({r['ms']:.0f} ms"
                + ("" if r["speedup"] is None else f", {r['speedup']:.2f}x reference")
                + f", {100 * r['matmul_fraction']:.0f} % of matmul)"
                for label, r in found
            ))  # fmt: skip
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--sizes", nargs="+", default=["512", "1080p"], choices=list(SIZES))
    parser.add_argument("--models", nargs="+", default=MODELS, choices=MODELS)
    parser.add_argument("--variants", nargs="+", default=VARIANTS, choices=VARIANTS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--min-time", type=float, default=0.5, help="s per runner per round")
    parser.add_argument("--matmul", type=int, default=2048, help="side of the matrix product")
    parser.add_argument("--out", type=Path, default=None, help="JSON file to write")
    args = parser.parse_args()
    device = torch.device(args.device)
    print(HEADER)
    rows = []
    for size in args.sizes:
        for row in measure_size(args, size, device):
            rows.append(row)
            print(format_row(row), flush=True)
    print("\n".join(summary(rows)))
    result = {
        "machine": describe_device(device), "torch": torch.__version__,
        "threads": torch.get_num_threads(), "args": {k: str(v) for k, v in vars(args).items()},
        "rows": rows,
    }  # fmt: skip
    out = args.out or Path(f"outputs/benchmarks/stylize_{device.type}.json")
    write_json(out, result)
    print(f"machine: {result['machine']}; wrote {out}")


if __name__ == "__main__":
    main()
