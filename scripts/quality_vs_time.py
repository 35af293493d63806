"""What a CPU training budget buys: loss parity N and the quality measures vs training time.

    python scripts/quality_vs_time.py --data ../shared/data/train_small \\
        --style ../shared/data/styles/great_wave.jpg --content ../shared/data/content \\
        --minutes 5 10 20 40 --out outputs/quality_vs_time \\
        -- loss=johnson_scalefree vgg.weights=random

Trains one network with ``experiment=cpu`` (plus the overrides after ``--``), saving a
checkpoint when the wall-clock time passes each of ``--minutes`` (``callbacks=elapsed``), then
runs ``scripts/compare.py`` on every checkpoint against the solver on ``--images`` photos of
``--content`` that the network never saw, at ``--size`` px. Prints a Markdown table (minutes,
steps, loss parity N, the first solver iteration below the network, colour / texture distance
to the painting, structure kept) with the photo itself as the "no style" row, and writes
``<out>/quality_vs_time.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from fastnst.device import describe_device
from fastnst.io.atomic import write_json
from fastnst.models.checkpoint import load_style_checkpoint

REPO = Path(__file__).resolve().parents[1]
MEASURES = ("color_swd", "texture_swd", "ssim")


def run(command: list[str], log: Path) -> float:
    """Run ``command`` with its output appended to ``log``; stop on failure.

    Returns the mean 1-minute load average of the machine while it ran (sampled every 10 s),
    so a table made on a busy machine says so.
    """
    loads = []
    with log.open("a") as out:
        print("$", " ".join(command), file=out, flush=True)
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        while process.poll() is None:
            loads.append(os.getloadavg()[0])
            time.sleep(10)
    if process.returncode != 0:
        sys.exit(f"error: {command[1]} failed (exit {process.returncode}); see {log}")
    return statistics.fmean(loads) if loads else float("nan")


def train(args: argparse.Namespace, out: Path, log: Path) -> float:
    """Train with checkpoints at the minute marks; returns the mean load average meanwhile."""
    marks = ",".join(str(m) for m in args.minutes)
    return run([sys.executable, str(REPO / "train.py"), "experiment=cpu", "callbacks=elapsed",
         f"callbacks.elapsed.minutes=[{marks}]", f"data.root={args.data}", "style=custom",
         f"style.image={args.style}", f"hydra.run.dir={out / 'train'}", *args.overrides],
        log)  # fmt: skip


def compare(args: argparse.Namespace, ckpt: Path, out: Path, log: Path) -> dict:
    """``scripts/compare.py`` on one checkpoint; returns its compare.json."""
    folder = out / f"compare_{ckpt.stem}"
    iterations = ",".join(str(n) for n in args.iterations)
    run([sys.executable, str(REPO / "scripts" / "compare.py"), f"ckpt={ckpt}",
         f"content_dir={args.content}", f"max_images={args.images}", f"size={args.size}",
         f"iterations=[{iterations}]", f"output_dir={folder}", f"hydra.run.dir={folder}",
         "progress=false"], log)  # fmt: skip
    return json.loads((folder / "compare.json").read_text())


def row(minutes: float, steps: int, report: dict) -> dict:
    """The table row of one checkpoint from its comparison report."""
    mean = report["mean"]
    curve = mean["curve"]
    below = next((i for i, total in enumerate(curve) if total < mean["network"]["total"]), None)
    quality = mean.get("quality", {})
    return {
        "minutes": minutes, "steps": steps, "network_total": mean["network"]["total"],
        "parity_n": mean["parity_n"], "first_iteration_below": below,
        **{m: quality.get("network", {}).get(m) for m in MEASURES},
        "photo": {m: quality.get("photo", {}).get(m) for m in MEASURES},
        "solver": {n: {m: q.get(m) for m in MEASURES} for n, q in quality.items()
                   if n.startswith("solver@")},
    }  # fmt: skip


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True, help="training photos")
    parser.add_argument("--style", type=Path, required=True, help="the painting")
    parser.add_argument("--content", type=Path, required=True, help="unseen photos to compare on")
    parser.add_argument("--minutes", type=float, nargs="+", default=[5, 10, 20, 40])
    parser.add_argument("--iterations", type=int, nargs="+", default=[5, 10, 20, 40, 80])
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--out", type=Path, default=Path("outputs/quality_vs_time"))
    parser.add_argument("--skip-training", action="store_true", help="reuse the checkpoints")
    parser.add_argument("overrides", nargs="*", help="train.py overrides (after --)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / "log.txt"
    load = None if args.skip_training else train(args, args.out, log)
    marks = [args.out / "train" / "checkpoints" / f"min{m:g}.ckpt" for m in args.minutes]
    rows = []
    for minutes, ckpt in zip(args.minutes, marks, strict=True):
        if not ckpt.is_file():
            print(f"no checkpoint {ckpt}: the run ended before {minutes} min", file=sys.stderr)
            continue
        steps = load_style_checkpoint(ckpt).global_step
        rows.append(row(minutes, steps, compare(args, ckpt, args.out, log)))
    print("| minutes | steps | loss parity N | first solver iteration below | colour SWD "
          "| texture SWD | SSIM to photo |\n|---:|---:|---:|---:|---:|---:|---:|")  # fmt: skip
    for r in rows:
        cells = [r["parity_n"], r["first_iteration_below"], *(fmt(r[m]) for m in MEASURES)]
        print(f"| {r['minutes']:g} | {r['steps']} | " + " | ".join(str(c) for c in cells) + " |")
    if rows:
        photo = rows[-1]["photo"]
        print("| photo (no style) | | | | " + " | ".join(fmt(photo[m]) for m in MEASURES) + " |")
    if load is not None:
        print(f"\nmean load average while training: {load:.2f} on {os.cpu_count()} cores")
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    report = {"settings": settings, "machine": describe_device("cpu"), "train_load": load,
              "rows": rows}  # fmt: skip
    write_json(args.out / "quality_vs_time.json", report)
    print(f"\nwrote {args.out / 'quality_vs_time.json'}")


if __name__ == "__main__":
    main()
