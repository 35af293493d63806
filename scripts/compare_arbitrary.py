"""Arbitrary-style networks against a per-style network and the solver, painting by painting.

    python scripts/compare_arbitrary.py --ckpt adain=<adain run>/checkpoints/last.ckpt \
        --ckpt predicted=<predicted run>/checkpoints/last.ckpt --out compare_arbitrary/ \
        --paintings ../shared/data/styles/starry_night.jpg ../shared/data/styles/great_wave.jpg

For each of K paintings (``--held-out K``: the first K of the first checkpoint's own held-out
split, recomputed from its ``data.style_root``, ``data.val_styles`` and ``seed`` exactly as
``scripts/benchmark_arbitrary.py`` and the data module split them; plus any ``--paintings``
files, labelled train / held_out / unseen against that split) and the same P photos
(``--num-photos`` of ``--photos``, centre crops at ``--size`` px), the methods are:

1. every arbitrary-style checkpoint (``--ckpt NAME=PATH``, repeatable): one forward pass with
   the painting as an input;
2. ``per_style``: a Johnson network trained on that painting alone through ``fastnst.app.train``
   (``experiment=smoke``: random VGG16 and ``loss=johnson_scalefree``, ``--per-style-steps``
   steps x ``--per-style-batch`` photos of ``--per-style-data`` at ``--size`` px); cached in
   ``<out>/per_style/<painting>`` with its training wall time, so a rerun reuses it;
3. ``solver``: the project's Gatys solver (L-BFGS, ``--solver-steps`` iterations from the
   photo) on each photo, under the same Gram loss the per-style network trains with.

Every method sees the same painting pixels: the painting's centre crop at ``--size`` px (short
side resized, as the arbitrary models' validation pairs), written to ``<out>/paintings/``.

Measures (means over the photos), for every method and painting, plus the photo itself as the
"no style" reference:

- ``adain_loss``: THE YARDSTICK, one loss for all methods: the scale-free AdaIN loss of the
  first checkpoint (its ``loss`` config) on its own frozen encoder (random VGG-19 in the smoke
  runs): mean/std statistics at relu1_1 ... relu4_1 against the painting's, and relu4_1
  content against the *photo's own* features (not AdaIN's target t). It favours the arbitrary
  models: the style-prediction network trained on exactly this loss, AdaIN on it but for the
  content target; the per-style network and the solver never saw it;
- ``gram_loss``: the Gram-based scale-free loss (``loss=johnson_scalefree``, random VGG16) the
  per-style network and the solver minimize; it favours those two in turn;
- ``quality``: :func:`fastnst.quality.quality_measures` (colour and texture SWD to the painting,
  SSIM and edge SSIM of the luminance to the photo), no pretrained network;
- ``seconds_per_image``: one photo on this machine: the median forward pass (arbitrary models
  with the painting encoded on every call, and with its statistics cached), the per-style
  network's forward pass (its training time is reported apart), the solver's wall time.

Writes ``<tag>.json`` (atomically), ``<tag>.md`` and ``<tag>_grid.png`` (rows: photo |
painting | every method; ``--tag`` defaults to ``compare_arbitrary``) to ``--out``. The solver's
images are cached in ``<out>/solver/<painting>/<photo>.pt`` like the per-style networks, so a
rerun with more paintings only computes what is new.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from fastnst.app.builders import build_loss
from fastnst.app.train import quiet_train_config, train
from fastnst.device import describe_device
from fastnst.io.atomic import atomic_path, write_json
from fastnst.io.grid import image_grid
from fastnst.io.image import list_images, load_image, save_image, tensor_to_pil
from fastnst.losses.adain import AdaINLoss
from fastnst.models.adain import feature_statistics
from fastnst.models.checkpoint import load_style_checkpoint
from fastnst.quality import quality_measures
from fastnst.solver import SolverConfig, optimize
from fastnst.training.data import ImageFolderDataset, split_held_out
from fastnst.training.pairs import PaintingDataset

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
QUALITY = ("color_swd", "texture_swd", "ssim", "edge_ssim")
YARDSTICK = (
    "adain_loss is the common yardstick: the scale-free AdaIN loss (mean/std statistics at "
    "relu1_1..relu4_1 against the painting, relu4_1 content against the photo's own features) on "
    "the first checkpoint's frozen encoder. It favours the arbitrary models, which were trained "
    "with it (style prediction exactly, AdaIN with AdaIN's target as content); the per-style "
    "network and the solver minimize gram_loss (loss=johnson_scalefree, VGG16) instead, which "
    "favours them in turn."
)
CAPTION = (
    "Random VGG (no pretrained weights): these pictures and numbers can show the painting's "
    "palette and fine texture statistics and how much of the photo's structure each method "
    "keeps; they cannot show object-aware strokes or perceptual quality (those need ImageNet "
    "weights). {detail}"
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--ckpt", action="append", required=True, metavar="NAME=PATH",
        help="an arbitrary-style checkpoint (repeatable); the first one's encoder, loss and "
        "split make the yardstick and the held-out paintings",
    )  # fmt: skip
    parser.add_argument("--photos", type=Path, default=SHARED / "content")
    parser.add_argument("--num-photos", type=int, default=4, help="P: the first P photos")
    parser.add_argument("--held-out", type=int, default=2, help="K of the run's held-out split")
    parser.add_argument("--paintings", type=Path, nargs="*", default=[], help="more paintings")
    parser.add_argument("--size", type=int, default=128, help="crop side of photos, paintings")
    parser.add_argument("--per-style-steps", type=int, default=200)
    parser.add_argument("--per-style-batch", type=int, default=4)
    parser.add_argument("--per-style-data", type=Path, default=SHARED / "train_small")
    parser.add_argument(
        "--per-style-override", action="append", default=[], metavar="KEY=VALUE",
        help="extra train.py override of the per-style run (repeatable), e.g. model.width=16",
    )  # fmt: skip
    parser.add_argument("--solver-steps", type=int, default=50, help="L-BFGS iterations")
    parser.add_argument("--repeats", type=int, default=3, help="timed forward passes (median)")
    parser.add_argument("--grid-height", type=int, default=128)
    parser.add_argument("--out", type=Path, default=Path("outputs/compare_arbitrary"))
    parser.add_argument(
        "--tag", default="compare_arbitrary", help="stem of the .json, .md and _grid.png written"
    )
    args = parser.parse_args(argv)
    args.checkpoints = {}
    for entry in args.ckpt:
        name, sep, path = entry.partition("=")
        if not sep or not name or not path:
            parser.error(f"--ckpt {entry}: use NAME=PATH")
        if name in ("per_style", "solver", "photo") or name in args.checkpoints:
            parser.error(f"--ckpt {entry}: the name {name!r} is taken")
        args.checkpoints[name] = Path(path)
    return args


def paintings_to_compare(config: dict, held_out: int, extra: list[Path]) -> list[dict[str, Any]]:
    """The first ``held_out`` paintings of the run's own validation split (recomputed as
    ``benchmark_arbitrary.painting_sets`` does), then ``extra``, each labelled by that split."""
    data, chosen = config.get("data", {}), []
    train_set: set[Path] = set()
    held: list[Path] = []
    root = data.get("style_root")
    if root and Path(root).is_dir():
        train_list, held = split_held_out(list_images(root), data["val_styles"], config["seed"])
        train_set = {p.resolve() for p in train_list}
    elif held_out:
        raise SystemExit(
            f"the first checkpoint has no readable data.style_root ({root!r}) to recompute its "
            "held-out split from; pass --held-out 0 and --paintings"
        )
    held_set = {p.resolve() for p in held}
    chosen = [{"path": p, "set": "held_out"} for p in held[:held_out]]
    for path in extra:
        resolved = path.resolve()
        label = "unseen"
        if resolved in held_set or resolved in train_set:
            label = "held_out" if resolved in held_set else "train"
        chosen.append({"path": path, "set": label})
    names = [entry["path"].stem for entry in chosen]
    if len(set(names)) != len(names):
        raise SystemExit(f"two paintings share a name: {names}")
    if not chosen:
        raise SystemExit("no paintings: give --held-out K or --paintings")
    return chosen


def per_style_config(args: argparse.Namespace, painting: Path, run: Path) -> Any:
    """The composed train.yaml of the per-style network of ``painting`` (experiment=smoke with
    Johnson's network)."""
    return quiet_train_config(run, args.per_style_steps, [
        "experiment=smoke", "model=johnson", "loss=johnson_scalefree", "vgg.weights=random",
        "data=folder", f"data.root={args.per_style_data}", f"data.image_size={args.size}",
        f"data.batch_size={args.per_style_batch}", "data.num_workers=0", "data.val_images=1",
        "style=custom", f"style.image='{painting}'", f"style.size={args.size}",
        *args.per_style_override,
    ])  # fmt: skip


def train_per_style(args: argparse.Namespace, cfg: Any, run: Path) -> tuple[Any, dict]:
    """The per-style network and {steps, batch, seconds, cached} of its training: reused from
    ``run`` when it was trained there with the same steps and batch, else trained anew."""
    ckpt, timing = run / "checkpoints" / "last.ckpt", run / "training.json"
    wanted = {"steps": args.per_style_steps, "batch": args.per_style_batch}
    info = json.loads(timing.read_text()) if timing.is_file() else {}
    cached = ckpt.is_file() and all(info.get(k) == v for k, v in wanted.items())
    if not cached:
        shutil.rmtree(run / "checkpoints", ignore_errors=True)
        timing.unlink(missing_ok=True)
        start = time.perf_counter()
        train(cfg)
        info = {**wanted, "seconds": time.perf_counter() - start}
        write_json(timing, info)
    model = load_style_checkpoint(ckpt).model.eval()
    return model, {**info, "cached": cached}


def solve(
    args: argparse.Namespace, loss: torch.nn.Module, photo: Tensor, cache: Path
) -> tuple[Tensor, float, bool]:
    """The solver's image of one photo (1, 3, S, S), its wall time, and whether it came from
    ``cache`` (a .pt of the same photo, size and iterations, so a rerun reuses it)."""
    if cache.is_file():
        saved = torch.load(cache)
        if saved["iterations"] == args.solver_steps and torch.equal(saved["photo"], photo):
            return saved["image"], saved["seconds"], True
    result = optimize(loss, photo, SolverConfig(iterations=args.solver_steps))
    image = result.image.detach().clamp(0, 1)
    cache.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(cache) as tmp:
        torch.save({"image": image, "photo": photo, "seconds": result.seconds,
                    "iterations": args.solver_steps}, tmp)  # fmt: skip
    return image, result.seconds, False


def median_seconds(run: Callable[[], Any], repeats: int) -> float:
    """Median wall time of ``run()`` over ``repeats`` calls after one untimed call."""
    with torch.no_grad():
        run()
        times = []
        for _ in range(max(1, repeats)):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
    return statistics.median(times)


class Yardsticks:
    """The AdaIN loss on the first checkpoint's encoder and the per-style Gram loss."""

    def __init__(self, encoder: torch.nn.Module, adain: AdaINLoss) -> None:
        self.encoder, self.adain = encoder.eval(), adain

    @torch.no_grad()
    def adain_terms(self, output: Tensor, photos: Tensor, painting: Tensor) -> dict[str, float]:
        stats = [feature_statistics(f) for f in self.encoder(painting)]
        content = self.encoder(photos, deepest_only=True)[0]
        terms = self.adain(self.encoder(output), content, stats)
        return {name: float(value) for name, value in terms.items()}

    @staticmethod
    @torch.no_grad()
    def gram_terms(loss: torch.nn.Module, output: Tensor, photos: Tensor) -> dict[str, float]:
        return {name: float(value) for name, value in loss(output, photos).items()}


def measure(
    yard: Yardsticks, gram: torch.nn.Module, output: Tensor, photos: Tensor, painting: Tensor
) -> dict[str, Any]:
    """Every measure of (P, 3, S, S) outputs of ``photos`` in the style of ``painting``."""
    per_photo = [
        quality_measures(o[None], p[None], painting) for o, p in zip(output, photos, strict=True)
    ]
    return {
        "adain_loss": yard.adain_terms(output, photos, painting),
        "gram_loss": Yardsticks.gram_terms(gram, output, photos),
        "quality": {k: statistics.mean(q[k] for q in per_photo) for k in QUALITY},
        "quality_per_photo": per_photo,
    }


def compare_painting(
    args: argparse.Namespace,
    entry: dict[str, Any],
    photos: Tensor,
    photo_names: list[str],
    arbitrary: dict[str, torch.nn.Module],
    yard: Yardsticks,
) -> tuple[dict[str, Any], dict[str, Tensor], dict[str, Any]]:
    """All methods on one painting: measures, outputs (P, 3, S, S), per-style training."""
    name = entry["path"].stem
    crop = PaintingDataset([entry["path"]], args.size, train=False, scale=1.0)[0]
    if crop is None:
        raise SystemExit(f"cannot read the painting {entry['path']}")
    painting = crop[None]
    painting_file = save_image(painting, args.out / "paintings" / f"{name}.png", overwrite=True)
    run = args.out / "per_style" / name
    cfg = per_style_config(args, painting_file.resolve(), run)
    gram = build_loss(cfg, load_image(painting_file, long_side=args.size)).eval()
    results: dict[str, Any] = {}
    outputs: dict[str, Tensor] = {}

    with torch.no_grad():
        for method, model in arbitrary.items():
            outputs[method] = model(photos, painting).clamp(0, 1)
            stats = model.style_statistics(painting)
            one = photos[:1]
            results[method] = {
                "seconds_per_image": median_seconds(
                    lambda m=model, x=one: m(x, painting), args.repeats
                ),
                "seconds_per_image_cached": median_seconds(
                    lambda m=model, x=one, s=stats: m(x, style_stats=s), args.repeats
                ),
            }

    network, training = train_per_style(args, cfg, run)
    with torch.no_grad():
        outputs["per_style"] = network(photos).clamp(0, 1)
        results["per_style"] = {
            "seconds_per_image": median_seconds(lambda: network(photos[:1]), args.repeats),
            "training": training,
        }

    solved, seconds, reused = [], [], []
    for photo, photo_name in zip(photos, photo_names, strict=True):
        image, spent, cached = solve(args, gram, photo[None], run.parent.parent / "solver" / name
                                     / f"{photo_name}.pt")  # fmt: skip
        solved.append(image)
        seconds.append(spent)
        reused.append(cached)
    outputs["solver"] = torch.cat(solved)
    results["solver"] = {"seconds_per_image": statistics.mean(seconds),
                         "iterations": args.solver_steps, "cached": all(reused)}  # fmt: skip

    outputs["photo"] = photos
    results["photo"] = {"seconds_per_image": 0.0}
    for method, output in outputs.items():
        results[method].update(measure(yard, gram, output, photos, painting))
    info = {"name": name, "path": str(entry["path"]), "set": entry["set"],
            "crop": str(painting_file), "per_style_run": str(run)}  # fmt: skip
    return results, outputs, info | {"painting": painting}


def _caption(text: str, width: int) -> Image.Image:
    """A white strip with ``text`` wrapped to ``width`` px."""
    font = ImageFont.load_default(size=12)
    lines = textwrap.wrap(text, width=max(20, width // 7))
    strip = Image.new("RGB", (width, 16 * len(lines) + 8), "white")
    draw = ImageDraw.Draw(strip)
    for k, line in enumerate(lines):
        draw.text((4, 4 + 16 * k), line, fill="black", font=font)
    return strip


def _label(text: str, height: int) -> Image.Image:
    cell = Image.new("RGB", (96, height), "white")
    draw = ImageDraw.Draw(cell)
    draw.multiline_text((4, 4), text, fill="black", font=ImageFont.load_default(size=11))
    return cell


def write_grid(
    args: argparse.Namespace,
    methods: list[str],
    images: list[tuple[dict[str, Any], dict[str, Tensor]]],
    photo_names: list[str],
    detail: str,
) -> Path:
    """Rows (painting x photo): label | photo | painting | every method."""
    rows = []
    for info, outputs in images:
        for k, photo_name in enumerate(photo_names):
            label = f"{info['name'][:14]}\n({info['set']})\n{photo_name[:14]}"
            rows.append(
                [_label(label, args.grid_height), tensor_to_pil(outputs["photo"][k]),
                 tensor_to_pil(info["painting"][0])]
                + [tensor_to_pil(outputs[m][k]) for m in methods]
            )  # fmt: skip
    grid = image_grid(rows, ["", "photo", "painting", *methods], height=args.grid_height)
    caption = _caption(CAPTION.format(detail=detail), grid.width)
    sheet = Image.new("RGB", (grid.width, grid.height + caption.height), "white")
    sheet.paste(grid, (0, 0))
    sheet.paste(caption, (0, grid.height))
    return save_image(sheet, args.out / f"{args.tag}_grid.png", overwrite=True)


def mean_over(results: dict[str, dict[str, Any]], method: str) -> dict[str, Any]:
    """A method's measures averaged over the paintings."""
    rows = [per_painting[method] for per_painting in results.values()]
    return {
        "adain_loss": {k: statistics.mean(r["adain_loss"][k] for r in rows)
                       for k in ("total", "content", "style")},
        "gram_loss": {k: statistics.mean(r["gram_loss"][k] for r in rows)
                      for k in ("total", "content", "style", "tv")},
        "quality": {k: statistics.mean(r["quality"][k] for r in rows) for k in QUALITY},
        "seconds_per_image": statistics.mean(r["seconds_per_image"] for r in rows),
    }  # fmt: skip


def markdown(results: dict[str, Any], sets: dict[str, str], methods: list[str]) -> str:
    head = ("| painting | method | AdaIN total | AdaIN content | AdaIN style | Gram total | "
            "Gram style | colour SWD | texture SWD | SSIM | edge SSIM | s / image |\n"
            "| --- | --- |" + " ---: |" * 10)  # fmt: skip

    def row(label: str, method: str, r: dict[str, Any]) -> str:
        a, g, q = r["adain_loss"], r["gram_loss"], r["quality"]
        values = [a["total"], a["content"], a["style"], g["total"], g["style"],
                  q["color_swd"], q["texture_swd"], q["ssim"], q["edge_ssim"]]  # fmt: skip
        cells = " | ".join(f"{v:.3f}" for v in values)
        return f"| {label} | {method} | {cells} | {r['seconds_per_image']:.3g} |"

    lines = [head]
    for name, per_method in results.items():
        for method in methods:
            lines.append(row(f"{name} ({sets[name]})", method, per_method[method]))
    lines += ["", "Mean over the paintings:", "", head]
    for method in methods:
        lines.append(row("mean", method, mean_over(results, method)))
    return "\n".join(lines)


def check_finite(report: dict[str, Any]) -> None:
    def walk(value: Any, where: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{where}.{key}")
        elif isinstance(value, list):
            for k, item in enumerate(value):
                walk(item, f"{where}[{k}]")
        elif isinstance(value, float) and not math.isfinite(value):
            raise SystemExit(f"non-finite value at {where}: {value}")

    walk(report["results"], "results")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    loaded = {name: load_style_checkpoint(path) for name, path in args.checkpoints.items()}
    arbitrary = {name: ckpt.model.eval() for name, ckpt in loaded.items()}
    first_name, first = next(iter(loaded.items()))
    loss_cfg = {k: v for k, v in first.config.get("loss", {}).items() if k != "_target_"}
    yard = Yardsticks(first.model.encoder, AdaINLoss(**loss_cfg))
    encoders_equal = {
        name: all(torch.equal(a, b) for a, b in zip(
            first.model.encoder.state_dict().values(), ckpt.model.encoder.state_dict().values(),
            strict=True))
        for name, ckpt in loaded.items()
    }  # fmt: skip
    entries = paintings_to_compare(first.config, args.held_out, args.paintings)
    photo_files = list_images(args.photos)[: args.num_photos]
    dataset = ImageFolderDataset(photo_files, args.size, train=False)
    photos = torch.stack([dataset[k] for k in range(len(photo_files))])
    methods = [*arbitrary, "per_style", "solver"]

    results: dict[str, Any] = {}
    infos, images = [], []
    for entry in entries:
        per_method, outputs, info = compare_painting(
            args, entry, photos, [p.stem for p in photo_files], arbitrary, yard
        )
        results[info["name"]] = per_method
        images.append((info, outputs))
        infos.append({k: v for k, v in info.items() if k != "painting"})
        print(f"{info['name']}: done", flush=True)
    all_methods = [*methods, "photo"]
    sets = {info["name"]: info["set"] for info in infos}
    steps = {m: loaded[m].global_step for m in arbitrary}
    training = {name: results[name]["per_style"]["training"] for name in results}
    detail = (
        f"{args.size} px; arbitrary: {', '.join(f'{m} step {s}' for m, s in steps.items())}; "
        f"per-style: {args.per_style_steps} steps; solver: {args.solver_steps} L-BFGS iterations."
    )
    grid = write_grid(args, methods, images, [p.stem for p in photo_files], detail)
    table = markdown(results, sets, all_methods)
    report = {
        "yardstick": YARDSTICK,
        "caption": CAPTION.format(detail=detail),
        "device": describe_device("cpu"),
        "torch": torch.__version__,
        "size": args.size,
        "photos": [str(p) for p in photo_files],
        "paintings": infos,
        "methods": methods,
        "references": ["photo"],
        "checkpoints": {
            m: {
                "path": str(args.checkpoints[m]),
                "global_step": steps[m],
                "arch": getattr(arbitrary[m], "arch", type(arbitrary[m]).__name__),
                "encoder_equals_yardstick": encoders_equal[m],
            }
            for m in arbitrary
        },  # fmt: skip
        "yardstick_checkpoint": first_name,
        "adain_loss_config": loss_cfg,
        "per_style": {
            "steps": args.per_style_steps,
            "batch": args.per_style_batch,
            "data": str(args.per_style_data),
            "overrides": args.per_style_override,
            "training": training,
        },  # fmt: skip
        "solver": {
            "optimizer": "lbfgs",
            "iterations": args.solver_steps,
            "init": "content",
            "loss": "johnson_scalefree (random VGG16), as the per-style network",
        },  # fmt: skip
        "results": results,
        "mean": {m: mean_over(results, m) for m in all_methods},
        "grid": str(grid),
    }
    check_finite(report)
    print(f"{describe_device('cpu')}, {args.size} px, {len(photo_files)} photos; {YARDSTICK}\n")
    print(table)
    spent = [f"{name} {t['steps']} steps {t['seconds']:.0f} s" for name, t in training.items()]
    print("\nper-style training: " + ", ".join(spent))
    with atomic_path(args.out / f"{args.tag}.md") as tmp:
        tmp.write_text(f"{YARDSTICK}\n\n{table}\n")
    path = write_json(args.out / f"{args.tag}.json", report)
    print(f"wrote {path} and {grid}")
    return report


if __name__ == "__main__":
    main()
