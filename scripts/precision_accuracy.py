"""How far reduced precision moves trained networks' pictures, and which bf16 convolutions
this machine gets wrong.

    python scripts/precision_accuracy.py --ckpt a.ckpt b.ckpt --photos ../shared/data/content
    python scripts/precision_accuracy.py --scan        # bf16 convolutions vs fp32, by shape

Per checkpoint: what ``Stylizer(precision="bf16")`` (``"fp16"`` on CUDA) runs, as
:func:`fastnst.inference.precision.choose_precision` picks it, against fp32 on the first
``--count`` photos at ``--size`` px (long side): PSNR, the largest difference, and the share of
8-bit pixels more than 2 levels apart. ``--scan`` convolves seeded noise in fp32 and bf16 for
every input width x kernel x stride of the grid and lists the shapes whose relative error is
above 5 % (bf16 rounding alone gives about 0.3 %). Prints a table, writes JSON atomically.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import torch
import torch.nn.functional as F

from fastnst.device import describe_device
from fastnst.inference.precision import MIN_PSNR, choose_precision, psnr, reduced_type
from fastnst.io.atomic import write_json
from fastnst.io.image import list_images, load_image
from fastnst.models.checkpoint import load_style_checkpoint
from fastnst.models.fast_conv import with_fast_convs

SCAN_TOL = 0.05
SCAN_GRID = ((3, 8, 16, 24, 32, 64), (3, 4, 8, 9, 12), (1, 2, 4))  # in channels, kernels, strides


@torch.no_grad()
def checkpoint_rows(args: argparse.Namespace, device: torch.device) -> list[dict]:
    photos = list_images(args.photos)[: args.count]
    kind, rows = reduced_type("auto", device), []
    for ckpt in args.ckpt:
        model = load_style_checkpoint(ckpt).model.eval().requires_grad_(False).to(device)
        network = with_fast_convs(model) if device.type == "cpu" else model
        reduced, choice = choose_precision(network, kind, device, min_psnr=args.min_psnr)
        for photo in photos:
            x = load_image(photo, long_side=args.size).to(device)
            exact = model(x).float().clamp(0, 1)
            y = reduced(x.contiguous(memory_format=torch.channels_last)).clamp(0, 1)
            levels = ((y * 255).round() - (exact * 255).round()).abs()
            rows.append({
                "ckpt": str(ckpt), "photo": photo.name, "precision": str(choice),
                "psnr": psnr(y, exact), "max_abs_diff": (y - exact).abs().max().item(),
                "over_2_levels": (levels > 2).float().mean().item(),
            })  # fmt: skip
            print(
                f"| {Path(ckpt).parent.parent.name}/{Path(ckpt).name} | {photo.name} "
                f"| {choice.precision}{' (fp32 output layer)' * choice.output_fp32} "
                f"| {rows[-1]['psnr']:.1f} dB | {rows[-1]['max_abs_diff']:.3f} "
                f"| {100 * rows[-1]['over_2_levels']:.3f} % |",
                flush=True,
            )
    return rows


@torch.no_grad()
def scan_rows() -> list[dict]:
    """Every (input channels, kernel, stride) of the grid whose bf16 result is wrong."""
    generator = torch.Generator().manual_seed(0)
    rows = []
    for cin, kernel, stride in itertools.product(*SCAN_GRID):
        x = torch.randn(1, cin, 64, 64, generator=generator)
        w = torch.randn(48, cin, kernel, kernel, generator=generator) * 0.05
        exact = F.conv2d(x, w, stride=stride)
        y = F.conv2d(x.bfloat16(), w.bfloat16(), stride=stride).float()
        error = ((y - exact).norm() / exact.norm()).item()
        rows.append({"in_channels": cin, "kernel": kernel, "stride": stride, "rel_error": error})
        if error > SCAN_TOL:
            print(f"| {cin} | {kernel} | {stride} | {error:.2f} |", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ckpt", nargs="*", default=[], type=Path)
    parser.add_argument("--photos", type=Path, default=Path("../shared/data/content"))
    parser.add_argument("--count", type=int, default=6, help="photos per checkpoint")
    parser.add_argument("--size", type=int, default=512, help="long side of each photo, px")
    parser.add_argument("--min-psnr", type=float, default=MIN_PSNR, help="the probe's bar, dB")
    parser.add_argument("--scan", action="store_true", help="bf16 convolutions by shape (CPU)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=Path("outputs/benchmarks/precision.json"))
    args = parser.parse_args()
    device = torch.device(args.device)
    result: dict = {"machine": describe_device(device), "torch": torch.__version__}
    if args.ckpt:
        print("| checkpoint | photo | runs | PSNR | max diff | pixels > 2 levels |")
        print("|---|---|---|---|---|---|")
        result["checkpoints"] = checkpoint_rows(args, device)
    if args.scan:
        print(f"bf16 convolutions off by more than {SCAN_TOL:.0%} (48 outputs, 64 x 64 input):")
        print("| in channels | kernel | stride | relative error |\n|---|---|---|---|")
        result["scan"] = scan_rows()
    write_json(args.out, result)
    print(f"machine: {result['machine']}; wrote {args.out}")


if __name__ == "__main__":
    main()
