"""Model presets at an equal training budget: held-out loss and quality measures.

    python scripts/compare_presets.py                                # ~15 min on 2 CPU cores
    python scripts/compare_presets.py --models johnson johnson_fast --steps 100   # a quick look
    python scripts/compare_presets.py --vgg imagenet --loss johnson --steps 4000 --image-size 256

Trains each of ``--models`` (presets of ``configs/model/``) with the same recipe, data, seed
and number of steps (``experiment=smoke``: a random VGG16 and the scale-free loss
``loss=johnson_scalefree``, ``--image-size`` px crops of ``--data``, one painting), then scores
every network on ``--eval-images`` photos of ``--eval-dir`` that it never saw, at
``--eval-size`` px (short side): the loss it was trained on (total, content, style, all under
one loss object) and the offline quality measures of :mod:`fastnst.quality` (colour and
texture distance to the painting, structure and edges kept from the photo). The photo itself
is the "no style" row. Equal steps are an equal budget of photos; the seconds per step are
reported beside them (the VGG loss network costs the same for every preset).
Prints a Markdown table and writes JSON atomically.

With a random VGG these numbers say how well each network matches colour and texture
statistics, not whether it paints strokes that follow objects (that needs ImageNet weights).
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from pathlib import Path

import torch
from torch import Tensor

from fastnst.app.builders import build_loss
from fastnst.app.train import quiet_train_config, train
from fastnst.device import describe_device
from fastnst.io.atomic import write_json
from fastnst.io.image import list_images, load_image
from fastnst.models.checkpoint import load_style_checkpoint
from fastnst.quality import quality_measures

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
MEASURES = ("color_swd", "texture_swd", "ssim", "edge_ssim")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="+", default=["johnson", "johnson_small", "johnson_fast"])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--image-size", type=int, default=128, help="training crops, px")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--vgg", default="random", help="vgg.weights (imagenet for strokes)")
    parser.add_argument("--loss", default="johnson_scalefree", help="loss= config")
    parser.add_argument("--data", type=Path, default=SHARED / "train_small")
    parser.add_argument("--style", type=Path, default=SHARED / "styles" / "great_wave.jpg")
    parser.add_argument("--eval-dir", type=Path, default=SHARED / "content")
    parser.add_argument("--eval-images", type=int, default=6)
    parser.add_argument("--eval-size", type=int, default=256)
    parser.add_argument("--workdir", type=Path, default=Path("outputs/compare_presets"))
    parser.add_argument("--json", type=Path, default=Path("outputs/compare_presets.json"))
    return parser.parse_args()


def config(args: argparse.Namespace, model: str, run: Path):
    return quiet_train_config(run, args.steps, [
        "experiment=smoke", f"model={model}", f"vgg.weights={args.vgg}", f"loss={args.loss}",
        "data=folder", f"data.root={args.data}",
        f"data.image_size={args.image_size}", f"data.batch_size={args.batch}",
        "style=custom", f"style.image={args.style}", f"optim.lr={args.lr}",
    ])  # fmt: skip


def eval_photos(args: argparse.Namespace) -> list[Tensor]:
    return [load_image(p, short_side=args.eval_size) for p in list_images(args.eval_dir)][
        : args.eval_images
    ]


def train_preset(args: argparse.Namespace, model: str) -> tuple[object, Path, float]:
    """(config, checkpoint, seconds per step); reuses a finished run of the same workdir."""
    run = args.workdir / model
    cfg = config(args, model, run)
    ckpt = run / "checkpoints" / "last.ckpt"
    start = time.perf_counter()
    if not ckpt.is_file():
        train(cfg)
    return cfg, ckpt, (time.perf_counter() - start) / args.steps


@torch.no_grad()
def score(cfg, network: torch.nn.Module, photos: list[Tensor], painting: Tensor) -> dict:
    """Mean loss terms and quality measures of ``network`` (None: the photo) over ``photos``."""
    loss = build_loss(cfg, painting).eval()
    totals: dict[str, float] = {}
    for photo in photos:
        output = photo if network is None else network(photo).clamp(0, 1)
        terms = {k: float(v) for k, v in loss(output, photo).items()}
        terms.update(quality_measures(output, photo, painting))
        for key, value in terms.items():
            totals[key] = totals.get(key, 0.0) + value / len(photos)
    return totals


def main() -> None:
    args = parse_args()
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    photos = eval_photos(args)
    rows = []
    for model in args.models:
        cfg, ckpt, per_step = train_preset(args, model)
        network = load_style_checkpoint(ckpt).model
        painting = load_image(args.style, long_side=cfg.style.size)
        params = sum(p.numel() for p in network.parameters())
        rows.append({"model": model, "parameters": params, "seconds_per_step": per_step,
                     **score(cfg, network, photos, painting)})  # fmt: skip
    rows.append({"model": "photo (no style)", **score(cfg, None, photos, painting)})
    base = rows[0]["total"]
    print(
        f"{describe_device('cpu')}; {args.steps} steps x batch {args.batch} at "
        f"{args.image_size} px; {len(photos)} unseen photos at {args.eval_size} px\n"
    )
    print(
        "| model | parameters | s / step | total | vs first | content | style | colour SWD "
        "| texture SWD | SSIM | edge SSIM |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        params = f"{r['parameters'] / 1e6:.2f} M" if "parameters" in r else ""
        step = f"{r['seconds_per_step']:.2f}" if "seconds_per_step" in r else ""
        cells = [r["total"], r["total"] / base, r["content"], r["style"]]
        cells += [r[m] for m in MEASURES]
        numbers = " | ".join(f"{c:.4g}" for c in cells)
        print(f"| {r['model']} | {params} | {step} | {numbers} |")
    settings = {k: str(v) for k, v in vars(args).items()}
    write_json(args.json, {"machine": describe_device("cpu"), "torch": torch.__version__,
                           "args": settings, "rows": rows})  # fmt: skip
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
