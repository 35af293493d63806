"""Training throughput: a plain eager fp32 loop against each speed-up, measured in one run.

    python scripts/benchmark_train.py                       # CPU: 256 px, batch 4
    python scripts/benchmark_train.py --device cuda --batch 4 16
    python scripts/benchmark_train.py --data /path/to/images --shards /path/to/shards

Every variant trains the default model and loss (``train.yaml``, ``vgg.weights=random``) through
``StyleTransferModule.training_step`` plus Adam, on a fixed random batch, in its own process (so
that peak memory is its own): a few warm-up steps (compilation included), then timed steps.
Peak memory is the process's peak RSS on CPU and ``torch.cuda.max_memory_allocated`` on GPU.
``--data``/``--shards`` add the data loaders' images/s (JPEG decoding vs uint8 shards).
Prints a Markdown table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

from fastnst.device import describe_device
from fastnst.io.atomic import write_json

REPO = Path(__file__).resolve().parents[1]
# name: (channels_last, compile, autocast dtype or None)
VARIANTS = {
    "baseline": (False, False, None),
    "channels_last": (True, False, None),
    "bf16": (False, False, "bfloat16"),
    "channels_last+bf16": (True, False, "bfloat16"),
    "compile": (False, True, None),
    "channels_last+compile": (True, True, None),
    "channels_last+compile+bf16": (True, True, "bfloat16"),
    "channels_last+fp16": (True, False, "float16"),  # GPU only, with a GradScaler
}


def build_module(channels_last: bool, compile: bool, overrides: list[str]):
    """The default model and loss of ``train.yaml`` in the LightningModule, random style target."""
    from hydra.utils import instantiate

    from fastnst.training.module import StyleTransferModule

    with initialize_config_dir(config_dir=str(REPO / "configs"), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["vgg.weights=random", *overrides])
    loss = instantiate(cfg.loss)
    loss.set_style(torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(0)))
    return StyleTransferModule(
        instantiate(cfg.model), loss, channels_last=channels_last, compile=compile
    )


def run_variant(name: str, args: argparse.Namespace, batch_size: int) -> dict[str, float]:
    """Warm up, then time ``args.steps`` training steps of one variant in this process."""
    channels_last, compile, dtype = VARIANTS[name]
    device = torch.device(args.device)
    torch.manual_seed(0)
    module = build_module(channels_last, compile, args.override).to(device)
    optimizer = torch.optim.Adam(module.transformer.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == "float16")
    batch = torch.rand(batch_size, 3, args.size, args.size, device=device)
    autocast = torch.autocast(device.type, dtype=getattr(torch, dtype or "float32"),
                              enabled=dtype is not None)  # fmt: skip

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            loss = module.training_step(batch, 0)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    for _ in range(args.warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    seconds = (time.perf_counter() - start) / args.steps
    return {"s_per_step": seconds, "images_per_s": batch_size / seconds, "peak_mb": peak}


def loader_throughput(dataset: torch.utils.data.Dataset, batch: int, workers: int) -> float:
    """Images/s of one pass of a DataLoader over ``dataset``."""
    from fastnst.training.data import collate_skipping_none

    loader = torch.utils.data.DataLoader(
        dataset, batch_size=batch, num_workers=workers, collate_fn=collate_skipping_none
    )
    start = time.perf_counter()
    count = sum(len(b) for b in loader)
    return count / (time.perf_counter() - start)


def data_rows(args: argparse.Namespace) -> list[dict[str, object]]:
    from fastnst.io.image import list_images
    from fastnst.training.data import ImageFolderDataset, default_num_workers
    from fastnst.training.shards import ShardDataset, read_manifest

    workers, rows = default_num_workers(), []
    if args.data:
        dataset = ImageFolderDataset(list_images(args.data), args.size, train=True)
        rows.append({"loader": f"JPEG folder ({len(dataset)} files)", "workers": workers,
                     "images_per_s": loader_throughput(dataset, 4, workers)})  # fmt: skip
    if args.shards:
        count = read_manifest(args.shards)["count"]
        dataset = ShardDataset(args.shards, list(range(count)), args.size, train=True)
        rows.append({"loader": f"uint8 shards ({count} images)", "workers": workers,
                     "images_per_s": loader_throughput(dataset, 4, workers)})  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--size", type=int, default=256, help="training crop, px")
    parser.add_argument("--batch", type=int, nargs="+", default=[4], help="batch sizes")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps (compilation)")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=1, help="repeat all variants; median kept")
    parser.add_argument("--variants", nargs="+", default=None, help=f"of {list(VARIANTS)}")
    parser.add_argument("--override", nargs="*", default=[], help="train.yaml overrides")
    parser.add_argument("--data", help="image folder: also time the JPEG DataLoader")
    parser.add_argument("--shards", help="shard folder: also time the shard DataLoader")
    parser.add_argument("--json", type=Path, default=Path("outputs/benchmark_train.json"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        warnings.filterwarnings("ignore", message=".*self.log.*")
        print(json.dumps(run_variant(args.worker, args, args.batch[0])))
        return
    names = args.variants or [n for n in VARIANTS if args.device == "cuda" or "fp16" not in n]
    results = []
    for batch in args.batch:
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
        for _ in range(args.rounds):
            for name in names:
                cmd = [sys.executable, __file__, *sys.argv[1:], "--worker", name,
                       "--batch", str(batch)]  # fmt: skip
                out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
                runs[name].append(json.loads(out.strip().splitlines()[-1]))
                print(f"batch {batch} {name}: {runs[name][-1]}", file=sys.stderr)
        for name in names:
            ips = statistics.median(r["images_per_s"] for r in runs[name])
            peak = max(r["peak_mb"] for r in runs[name])
            results.append({"variant": name, "batch": batch, "images_per_s": ips,
                            "s_per_step": batch / ips, "peak_mb": peak})  # fmt: skip
    for row in results:
        base = next(
            (r for r in results if r["batch"] == row["batch"] and r["variant"] == "baseline"), None
        )
        row["speedup"] = row["images_per_s"] / base["images_per_s"] if base else float("nan")
    report = {
        "machine": describe_device(args.device), "torch": torch.__version__, "size": args.size,
        "steps": args.steps, "rounds": args.rounds, "train": results, "data": data_rows(args),
    }  # fmt: skip
    lines = [
        f"| {r['variant']} | {r['batch']} | {r['images_per_s']:.3f} | {r['s_per_step']:.2f} "
        f"| {r['speedup']:.2f}x | {r['peak_mb']:.0f} |"
        for r in results
    ]
    lines += [f"\n{r['loader']}, {r['workers']} workers: {r['images_per_s']:.0f} images/s"
              for r in report["data"]]  # fmt: skip
    header = "| variant | batch | images/s | s/step | speed-up | peak memory (MB) |"
    write_report(report, args.json, f"{args.size} px", header, lines)


def write_report(report: dict, path: Path, title: str, header: str, lines: list[str]) -> None:
    """Write ``report`` as JSON to ``path`` (atomically) and print a Markdown table of ``lines``."""
    write_json(path, report, indent=1)
    print(f"{report['machine']}, torch {torch.__version__}, {title}\n")
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    print("\n".join(lines))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
