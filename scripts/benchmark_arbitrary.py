"""An arbitrary-style checkpoint measured: how it paints unseen paintings, and how fast.

    python scripts/benchmark_arbitrary.py --ckpt outputs/<date>/<time>/checkpoints/last.ckpt \
        --photos ../shared/data/content --unseen ../shared/data/styles --json arbitrary.json

Generalization: the loss the network was trained with (its checkpoint's ``loss`` config, e.g.
the scale-free AdaIN loss), averaged over (photo, painting) pairs at ``--size`` px, centre
crops, on three sets of paintings: ``train`` (paintings the run trained on, recomputed from its
``data.style_root``, ``data.val_styles`` and ``seed`` exactly as the data module split them),
``held_out`` (that run's validation paintings, never trained on) and ``unseen`` (any other
folder). The ratios held_out / train and unseen / train of the style term are the
generalization gap (1 = none). Speed: one ``--speed-size`` px photo stylized with the
painting's statistics cached (what ``Stylizer`` and a folder run do) against encoding the
painting on every call, and the painting's encoding alone, on this machine, medians of
``torch.utils.benchmark``. Prints a Markdown table and writes JSON atomically.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch.utils.benchmark import Timer

from fastnst.device import describe_device
from fastnst.io.atomic import write_json
from fastnst.io.image import list_images
from fastnst.losses.adain import AdaINLoss
from fastnst.models.checkpoint import load_style_checkpoint
from fastnst.training.arbitrary import ArbitraryStyleModule
from fastnst.training.data import ImageFolderDataset, split_held_out
from fastnst.training.pairs import PaintingDataset, PairDataset, collate_pairs


def painting_sets(config: dict, unseen: Path | None, limit: int) -> dict[str, list[Path]]:
    """The run's training and held-out paintings (its own split) and an unseen folder."""
    data = config.get("data", {})
    sets: dict[str, list[Path]] = {}
    root = data.get("style_root")
    if root and Path(root).is_dir():
        train, held_out = split_held_out(list_images(root), data["val_styles"], config["seed"])
        sets["train"], sets["held_out"] = train[:limit], held_out[:limit]
    if unseen is not None:
        sets["unseen"] = list_images(unseen)[:limit]
    return sets


@torch.no_grad()
def mean_loss(module: ArbitraryStyleModule, photos: list[Path], paintings: list[Path],
              size: int, batch: int) -> dict[str, float]:  # fmt: skip
    """Mean loss terms over max(P, S) pairs (photo i mod P, painting i mod S)."""
    pairs = PairDataset(
        ImageFolderDataset(photos, size, train=False),
        PaintingDataset(paintings, size, train=False, scale=1.0),
        train=False,
    )
    totals: dict[str, float] = {}
    count = 0
    for start in range(0, len(pairs), batch):
        content, style = collate_pairs(
            [pairs[i] for i in range(start, min(start + batch, len(pairs)))]
        )
        if content.numel() == 0:
            continue
        terms, _ = module.losses(content, style)
        for name, value in terms.items():
            totals[name] = totals.get(name, 0.0) + float(value) * len(content)
        count += len(content)
    return {name: total / max(count, 1) for name, total in totals.items()}


def speed(model: torch.nn.Module, size: int, min_time: float) -> dict[str, float]:
    """Median seconds: stylize with cached statistics, with the painting each call, encode it."""
    photo, painting = torch.rand(1, 3, size, size), torch.rand(1, 3, size, size)
    with torch.no_grad():
        stats = model.style_statistics(painting)
    runs = {
        "cached_s": lambda: model(photo, style_stats=stats),
        "per_call_s": lambda: model(photo, painting),
        "painting_only_s": lambda: model.style_statistics(painting),
    }
    result = {}
    for name, run in runs.items():
        with torch.no_grad():
            run()  # warm-up
            timer = Timer("run()", globals={"run": run})
            result[name] = timer.blocked_autorange(min_run_time=min_time).median
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", required=True, type=Path)
    parser.add_argument("--photos", required=True, type=Path, help="content photos")
    parser.add_argument("--unseen", type=Path, help="paintings the run never saw")
    parser.add_argument("--size", type=int, default=256, help="crop side of the loss pairs")
    parser.add_argument("--max-paintings", type=int, default=16, help="per set")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--speed-size", type=int, default=512)
    parser.add_argument("--min-time", type=float, default=2.0, help="s per speed measurement")
    parser.add_argument("--json", type=Path, default=Path("benchmark_arbitrary.json"))
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    loaded = load_style_checkpoint(args.ckpt)
    loss_cfg = {k: v for k, v in loaded.config.get("loss", {}).items() if k != "_target_"}
    module = ArbitraryStyleModule(loaded.model, AdaINLoss(**loss_cfg)).eval()
    photos = list_images(args.photos)
    losses = {
        name: mean_loss(module, photos, paintings, args.size, args.batch)
        for name, paintings in painting_sets(loaded.config, args.unseen, args.max_paintings).items()
    }
    base = losses.get("train", {}).get("style")
    ratios = {
        f"{k}/train style": v["style"] / base for k, v in losses.items() if base and k != "train"
    }
    timing = speed(loaded.model, args.speed_size, args.min_time)
    print(
        f"{args.ckpt} (step {loaded.global_step}), {describe_device('cpu')}, {args.size} px pairs"
    )
    print("| paintings | total | content | style |\n| --- | --- | --- | --- |")
    for name, terms in losses.items():
        print(f"| {name} | {terms['total']:.3f} | {terms['content']:.3f} | {terms['style']:.3f} |")
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}")
    print(f"\n| {args.speed_size} px | seconds |\n| --- | --- |")
    for name, value in timing.items():
        print(f"| {name.removesuffix('_s')} | {value:.3f} |")
    report = {"ckpt": str(args.ckpt), "global_step": loaded.global_step, "size": args.size,
              "device": describe_device("cpu"), "losses": losses, "ratios": ratios,
              "speed_size": args.speed_size, "speed": timing}  # fmt: skip
    write_json(args.json, report)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
