"""One S-style network (conditional instance norm) against S single-style networks.

    python scripts/benchmark_multistyle.py                          # S = 4 and 8, ~15 min CPU
    python scripts/benchmark_multistyle.py --counts 4 --steps 40    # a quick check
    python scripts/benchmark_multistyle.py --vgg imagenet --loss johnson --image-size 256 \
        --steps 2000 --batch 4                                      # a real comparison (GPU)

Dumoulin, Shlens & Kudlur 2017 ("A Learned Representation for Artistic Style") train one
network for S paintings, each with its own instance-norm scale and shift. Here, at equal images
per style (``--steps`` x ``--batch`` per painting: the S-style network trains S x ``--steps``
steps, each sample's style cycled), for S in ``--counts``:

1. The per-style loss (total, and its style term) of the S-style network and of S single-style
   networks, on held-out photos (``--eval-dir``), every network under the same loss.
2. The parameters each added style costs (its gamma/beta rows) against a whole network.
3. Stylize speed at ``--speed-size`` px on this CPU: the CIN network against the single-style
   one (median ms of ``torch.utils.benchmark``, and the ratio).
4. A blend (1 - t) e_a + t e_b of the first two styles of the largest network: its style loss
   against each pure style's targets as t goes 0 -> 1 (should rise for a, fall for b).
5. Adding a style later (Dumoulin et al. sec. 4): the smallest S-style network grown by the
   next painting with ``init_from=`` (only the new gamma/beta rows train, the convolutions stay
   frozen) for ``--add-steps`` steps each, its held-out loss in the new style against a
   single-style network trained from scratch for ``--steps`` steps on that painting.

Defaults are tiny (``experiment=smoke``-like: a random VGG16 and ``loss=johnson_scalefree``,
64 px, width 16) so the whole run fits in minutes on a CPU; the options scale it up. Photos
and paintings default to ``../shared/data`` (``train_small``, ``content``, ``styles``).
Prints Markdown tables and writes JSON atomically.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.benchmark import Timer

from fastnst.app.builders import build_loss
from fastnst.app.train import quiet_train_config, train
from fastnst.device import describe_device
from fastnst.io.atomic import write_json
from fastnst.io.image import list_images, load_image
from fastnst.models import TransformerNet
from fastnst.models.checkpoint import load_style_checkpoint

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
PAINTINGS = ["starry_night", "great_wave", "the_scream", "udnie", "composition_vii",
             "la_grande_jatte", "the_kiss", "water_lilies"]  # fmt: skip


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--counts", type=int, nargs="+", default=[4, 8], help="values of S")
    parser.add_argument("--steps", type=int, default=60, help="training steps per style")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--image-size", type=int, default=64, help="training and eval px")
    parser.add_argument("--width", type=int, default=16, help="model.width")
    parser.add_argument("--blocks", type=int, default=3, help="model.num_residual_blocks")
    parser.add_argument("--head", default="sigmoid", help="model.head of both networks")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--vgg", default="random", help="vgg.weights")
    parser.add_argument("--loss", default="johnson_scalefree", help="loss= config")
    parser.add_argument("--style-size", type=int, default=128, help="style.size, px")
    parser.add_argument("--data", type=Path, default=SHARED / "train_small")
    parser.add_argument("--eval-dir", type=Path, default=SHARED / "content")
    parser.add_argument("--eval-images", type=int, default=8)
    parser.add_argument("--paintings-dir", type=Path, default=SHARED / "styles")
    parser.add_argument("--paintings", nargs="+", default=PAINTINGS)
    parser.add_argument("--speed-size", type=int, default=512)
    parser.add_argument("--blend-steps", type=int, default=5)
    parser.add_argument(
        "--add-steps", type=int, nargs="+", default=[15, 30, 60],
        help="steps of the added style's rows (init_from), one run each",
    )  # fmt: skip
    parser.add_argument("--workdir", type=Path, default=Path("outputs/benchmark_multistyle"))
    parser.add_argument("--json", type=Path, default=Path("outputs/benchmark_multistyle.json"))
    return parser.parse_args()


def config(
    args: argparse.Namespace, paintings: list[Path], run: Path, steps: int, *extra: str
) -> Any:
    """The composed train.yaml for ``paintings`` (model=johnson_cin when there are several),
    with the ``extra`` overrides last."""
    listed = "[" + ",".join(f"'{p}'" for p in paintings) + "]"
    overrides = [
        "experiment=smoke", f"loss={args.loss}", f"vgg.weights={args.vgg}", "data=folder",
        f"data.root={args.data}", f"data.image_size={args.image_size}",
        f"data.batch_size={args.batch}", "data.num_workers=0", "data.val_images=1",
        f"styles={listed}", f"style.size={args.style_size}", f"model.width={args.width}",
        f"model.num_residual_blocks={args.blocks}", f"model.head={args.head}",
        f"optim.lr={args.lr}",
    ]  # fmt: skip
    if len(paintings) > 1:
        overrides.append("model=johnson_cin")  # the same network but for the norms
    return quiet_train_config(run, steps, [*overrides, *extra])


def eval_photos(args: argparse.Namespace) -> Tensor:
    """``--eval-images`` held-out photos, short side resized and centre-cropped, (N, 3, s, s)."""
    size, photos = args.image_size, []
    for path in list_images(args.eval_dir)[: args.eval_images]:
        image = load_image(path, short_side=size)
        h, w = image.shape[-2:]
        top, left = (h - size) // 2, (w - size) // 2
        photos.append(image[..., top : top + size, left : left + size])
    return torch.cat(photos)


@torch.no_grad()
def per_style_loss(cfg: Any, model: torch.nn.Module, photos: Tensor, styles: list[int]) -> list:
    """(total, style term) of ``model`` in each of ``styles`` on ``photos``, under ``cfg.loss``
    with every painting of ``cfg`` as targets."""
    loss = build_loss(cfg, [load_image(p, long_side=cfg.style.size) for p in cfg.styles]).eval()
    results = []
    for k in styles:
        index = torch.full((len(photos),), k)
        out = model(photos, index if model.num_styles > 1 else None)
        terms = loss(out, photos, index)
        results.append((float(terms["total"]), float(terms["style"])))
    return results


def train_network(
    args, paintings: list[Path], name: str, steps: int, *extra: str
) -> tuple[Any, Any]:
    run = args.workdir / name
    cfg = config(args, paintings, run, steps, *extra)
    if not (run / "checkpoints" / "last.ckpt").is_file():
        train(cfg)
    return cfg, load_style_checkpoint(run / "checkpoints" / "last.ckpt").model


def compare(args, count: int, photos: Tensor, singles: dict[str, list]) -> dict[str, Any]:
    """The S-style network against single-style networks, at equal images per style."""
    names = args.paintings[:count]
    paths = [args.paintings_dir / f"{n}.jpg" for n in names]
    cfg, multi = train_network(args, paths, f"multi_{count}", count * args.steps)
    multi_losses = per_style_loss(cfg, multi, photos, list(range(count)))
    rows = []
    for k, (name, path) in enumerate(zip(names, paths, strict=True)):
        if name not in singles:
            _, single = train_network(args, [path], f"single_{name}", args.steps)
            # the same loss for both: the single network is scored against painting k of cfg
            singles[name] = per_style_loss(cfg, single, photos, [k])[0]
        rows.append({"style": name, "multi": multi_losses[k], "single": singles[name]})
    return {"num_styles": count, "rows": rows, "model": multi}


def add_style_curve(args, photos: Tensor, singles: dict[str, list]) -> dict[str, Any]:
    """The smallest S-style network grown by painting S (``init_from``), trained ``k`` steps
    for each ``k`` of ``--add-steps``, against a from-scratch single-style network of
    ``--steps`` steps: held-out (total, style) loss in the new style."""
    count = min(args.counts)
    names = args.paintings[: count + 1]
    paths = [args.paintings_dir / f"{n}.jpg" for n in names]
    source = args.workdir / f"multi_{count}" / "checkpoints" / "last.ckpt"
    curve = []
    for steps in args.add_steps:
        cfg, grown = train_network(
            args, paths, f"add_{names[-1]}_{steps}", steps, f"init_from='{source}'"
        )
        curve.append({"steps": steps, "loss": per_style_loss(cfg, grown, photos, [count])[0]})
    if names[-1] not in singles:
        _, single = train_network(args, paths[-1:], f"single_{names[-1]}", args.steps)
        singles[names[-1]] = per_style_loss(cfg, single, photos, [count])[0]
    scratch = singles[names[-1]]
    matched = [c["steps"] for c in curve if c["loss"][0] <= scratch[0]]
    return {
        "style": names[-1], "from_styles": count, "curve": curve, "scratch": scratch,
        "scratch_steps": args.steps, "steps_to_match": matched[0] if matched else None,
    }  # fmt: skip


def blend_curve(args, cfg: Any, model: torch.nn.Module, photos: Tensor) -> list[dict]:
    """Style loss against styles 0 and 1 along w = (1 - t) e_0 + t e_1."""
    loss = build_loss(cfg, [load_image(p, long_side=cfg.style.size) for p in cfg.styles]).eval()
    curve = []
    for step in range(args.blend_steps):
        t = step / (args.blend_steps - 1)
        weights = torch.zeros(model.num_styles)
        weights[0], weights[1] = 1 - t, t
        with torch.no_grad():
            out = model(photos, weights)
            to_a = loss(out, photos, torch.zeros(len(photos), dtype=torch.long))["style"]
            to_b = loss(out, photos, torch.ones(len(photos), dtype=torch.long))["style"]
        curve.append({"t": t, "style_loss_a": float(to_a), "style_loss_b": float(to_b)})
    return curve


def speed(args: argparse.Namespace, count: int) -> dict[str, float]:
    """Median ms of one ``--speed-size`` px frame: single-style vs ``count``-style network."""
    frame = torch.rand(1, 3, args.speed_size, args.speed_size)
    result = {}
    for label, styles in (("single", 1), ("cin", count)):
        model = TransformerNet(num_styles=styles).eval()
        style = None if styles == 1 else torch.full((styles,), 1 / styles)
        timer = Timer("model(frame, style)", globals={"model": model, "frame": frame,
                                                     "style": style})  # fmt: skip
        with torch.no_grad():
            result[f"{label}_ms"] = 1e3 * timer.blocked_autorange(min_run_time=2).median
    result["ratio"] = result["cin_ms"] / result["single_ms"]
    return result


def parameters(count: int) -> dict[str, int]:
    model = TransformerNet(num_styles=count)
    rows = sum(p.numel() for n, p in model.named_parameters() if n.endswith((".gamma", ".beta")))
    return {
        "per_style": rows // count,
        "single_network": sum(p.numel() for p in TransformerNet().parameters()),
        "shared": sum(p.numel() for p in model.parameters()) - rows,
    }


def report(args: argparse.Namespace, results: list[dict], extra: dict[str, Any]) -> str:
    lines = [f"{describe_device('cpu')}, torch {torch.__version__}; vgg={args.vgg}, "
             f"loss={args.loss}, {args.image_size} px, {args.steps} steps x batch {args.batch} "
             "per style\n"]  # fmt: skip
    for result in results:
        lines += [f"\nS = {result['num_styles']}: held-out loss per style (lower is better)\n",
                  "| style | multi total | single total | multi style | single style |",
                  "|---|---|---|---|---|"]  # fmt: skip
        for row in result["rows"]:
            (mt, ms), (st, ss) = row["multi"], row["single"]
            lines.append(f"| {row['style']} | {mt:.4g} | {st:.4g} | {ms:.4g} | {ss:.4g} |")
        mean = statistics.mean(r["multi"][0] / r["single"][0] for r in result["rows"])
        lines.append(f"\nmean multi / single total: {mean:.3f}")
    p, s = extra["parameters"], extra["speed"]
    lines += [
        f"\nParameters: {p['per_style']:,} per added style; a whole network has "
        f"{p['single_network']:,} ({100 * p['per_style'] / p['single_network']:.2f} %).",
        f"\nStylize {args.speed_size} px on CPU (width 32): single {s['single_ms']:.0f} ms, "
        f"CIN {s['cin_ms']:.0f} ms, ratio {s['ratio']:.3f}.",
        "\nBlend of the first two styles, style loss against each painting's targets:\n",
        "| t (weight of b) | vs a | vs b |", "|---|---|---|",
    ]  # fmt: skip
    lines += [f"| {c['t']:.2f} | {c['style_loss_a']:.4g} | {c['style_loss_b']:.4g} |"
              for c in extra["blend"]]  # fmt: skip
    lines.append(f"\nmonotonic: {extra['monotonic']}")
    add = extra["add_style"]
    lines += [
        f"\nAdding {add['style']} to the {add['from_styles']}-style network (only its norm rows "
        f"train) vs a single-style network from scratch ({add['scratch_steps']} steps): "
        "held-out loss in that style\n",
        "| steps | added total | added style | scratch total | scratch style |",
        "|---|---|---|---|---|",
    ]  # fmt: skip
    (st, ss) = add["scratch"]
    lines += [f"| {c['steps']} | {c['loss'][0]:.4g} | {c['loss'][1]:.4g} | {st:.4g} | {ss:.4g} |"
              for c in add["curve"]]  # fmt: skip
    lines.append(f"\nsteps to match the scratch network's total: {add['steps_to_match']}")
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    photos = eval_photos(args)
    singles: dict[str, list] = {}
    results = [compare(args, count, photos, singles) for count in args.counts]
    largest = max(results, key=lambda r: r["num_styles"])
    names = args.paintings[: largest["num_styles"]]
    paths = [args.paintings_dir / f"{n}.jpg" for n in names]
    blend = blend_curve(
        args, config(args, paths, args.workdir / "tmp", 1), largest["model"], photos
    )
    a = [c["style_loss_a"] for c in blend]
    b = [c["style_loss_b"] for c in blend]
    rising = all(x <= y for x, y in zip(a, a[1:], strict=False))
    monotonic = rising and all(x >= y for x, y in zip(b, b[1:], strict=False))
    extra = {"parameters": parameters(max(args.counts)), "speed": speed(args, max(args.counts)),
             "blend": blend, "monotonic": monotonic,
             "add_style": add_style_curve(args, photos, singles)}  # fmt: skip
    for result in results:
        result.pop("model")
    settings = {k: str(v) for k, v in vars(args).items()}
    data = {"machine": describe_device("cpu"), "torch": torch.__version__, "args": settings,
            "results": results, **extra}  # fmt: skip
    write_json(args.json, data, indent=1)
    print(report(args, results, extra))
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
