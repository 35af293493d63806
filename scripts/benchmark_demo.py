"""The demo server under load: latency, throughput, memory, webcam frame rate, page weight.

    python scripts/benchmark_demo.py [--clients 1 4 16] [--requests 2] [--megapixels 1.0]
        [--webcam-frames 20] [--workers 1] [--queue 32] [--ckpt model.ckpt]
        [--out outputs/benchmarks/demo_cpu.json]

Starts ``python -m fastnst demo`` on 127.0.0.1 (a free port) with a fresh ``FASTNST_CACHE``,
over one model: ``--ckpt``, or a randomly initialised Johnson network (width 32, 5 residual
blocks, the default; the weights do not change the speed). Then, in this order:

- time to the first stylized frame: process start -> server answering -> first 640x360 frame
  stylized (model load and its one-off ONNX export included), and the same frame warm;
- ``--clients`` concurrent clients, each uploading ``--requests`` JPEG photos of
  ``--megapixels`` MP one after another: latency p50/p95, throughput, errors, the server's
  peak resident memory (sampled every 50 ms) during each run;
- the webcam loop of the page in server mode: 640x360 JPEG frames, one in flight, frames/s;
- bytes the page downloads: the page and its assets, plus, for in-browser mode, the model's
  ONNX and the onnxruntime-web copy (when present).
Writes a Markdown table (stdout and ``.md``) and the raw numbers as JSON beside it.
"""

from __future__ import annotations

import argparse
import io
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import torch
from PIL import Image

from fastnst.demo.ortweb import ORT_WEB_FILES, ort_web_dir
from fastnst.device import describe_device
from fastnst.io.atomic import write_json
from fastnst.models import TransformerNet
from fastnst.models.checkpoint import checkpoint_entry

PHOTO = Path(__file__).resolve().parents[2] / "shared" / "data" / "content" / "chicago.jpg"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--requests", type=int, default=2, help="uploads per client")
    parser.add_argument("--megapixels", type=float, default=1.0)
    parser.add_argument("--webcam-frames", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--queue", type=int, default=32)
    parser.add_argument("--ckpt", type=Path, help="a checkpoint (default: random Johnson)")
    parser.add_argument("--out", type=Path, default=Path("outputs/benchmarks/demo_cpu.json"))
    return parser.parse_args()


def jpeg(width: int, height: int) -> bytes:
    """A photo (the shared data's Chicago, else a gradient) of ``width`` x ``height`` as JPEG."""
    if PHOTO.is_file():
        image = Image.open(PHOTO).convert("RGB").resize((width, height), Image.Resampling.LANCZOS)
    else:
        y, x = np.mgrid[0:height, 0:width]
        image = Image.fromarray(np.stack([x % 256, y % 256, (x + y) % 256], -1).astype(np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def random_johnson(folder: Path) -> Path:
    """A randomly initialised default Johnson network saved as a train.py-like checkpoint."""
    torch.manual_seed(0)
    model = TransformerNet().eval()
    state = {f"transformer.{key}": value for key, value in model.state_dict().items()}
    path = folder / "johnson_random.ckpt"
    torch.save({"state_dict": state, "fastnst": checkpoint_entry(model, ["random"], {})}, path)
    return path


class MemorySampler:
    """Peak VmRSS of a process, sampled every 50 ms between ``reset`` calls."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self.running = pid, 0, True
        threading.Thread(target=self._loop, daemon=True).start()

    def rss(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def _loop(self) -> None:
        while self.running:
            try:
                self.peak = max(self.peak, self.rss())
            except OSError:
                return
            time.sleep(0.05)

    def reset(self) -> int:
        """The peak since the last reset, in bytes; starts a new window."""
        peak, self.peak = self.peak, 0
        return peak


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(models: Path, cache: Path, args: argparse.Namespace) -> tuple:
    """The demo server process and its URL, once it answers (bounded wait: 120 s)."""
    port = free_port()
    command = [
        sys.executable, "-m", "fastnst", "demo", "--models", str(models), "--port", str(port),
        "--workers", str(args.workers), "--queue", str(args.queue),
        "--ort-web", str(ort_web_dir()),
    ]  # fmt: skip
    env = {**os.environ, "FASTNST_CACHE": str(cache)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(1200):
        try:
            if httpx.get(f"{url}/api/config", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the demo server did not start within 120 s")


def post(client: httpx.Client, url: str, model: str, data: bytes, fmt: str) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.post(
        f"{url}/api/stylize", params={"model": model, "format": fmt}, content=data,
        headers={"content-type": "image/jpeg"}, timeout=600,
    )  # fmt: skip
    return time.perf_counter() - started, response.status_code


def load_run(url: str, model: str, photo: bytes, clients: int, requests: int) -> dict:
    """``clients`` threads each uploading ``requests`` photos; latencies and statuses."""
    results: list[tuple[float, int]] = []
    lock = threading.Lock()

    def client_loop() -> None:
        with httpx.Client() as client:
            for _ in range(requests):
                result = post(client, url, model, photo, "png")
                with lock:
                    results.append(result)

    threads = [threading.Thread(target=client_loop) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies = sorted(seconds for seconds, status in results if status == 200)
    return {
        "clients": clients, "requests": len(results), "wall_s": wall,
        "errors": sum(status != 200 for _, status in results),
        "p50_s": statistics.median(latencies) if latencies else None,
        "p95_s": float(np.percentile(latencies, 95)) if latencies else None,
        "throughput_per_s": len(latencies) / wall,
    }  # fmt: skip


def page_bytes(url: str, model: str) -> dict:
    """Bytes of the page and its assets, and what in-browser mode adds."""
    page = sum(
        len(httpx.get(f"{url}{path}", timeout=60).content)
        for path in ["/", "/static/app.js", "/static/style.css", "/api/config", "/api/models"]
    )
    onnx = len(httpx.get(f"{url}/api/onnx", params={"model": model}, timeout=600).content)
    ort = [ort_web_dir() / name for name in ORT_WEB_FILES]
    ort_bytes = sum(path.stat().st_size for path in ort) if all(p.is_file() for p in ort) else None
    return {"page": page, "model_onnx": onnx, "ort_web": ort_bytes}


def table(report: dict) -> str:
    """The Markdown summary."""
    mb = 2**20
    lines = [
        f"Demo server on {report['device']}, model {report['model']}, {report['workers']} "
        f"worker(s), queue {report['queue']}, {report['photo']} JPEG uploads (PNG answers).",
        "",
        "| clients | requests | errors | p50 s | p95 s | throughput img/s | peak RSS MiB |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in report["load"]:
        lines.append(
            f"| {run['clients']} | {run['requests']} | {run['errors']} | {run['p50_s']:.2f} | "
            f"{run['p95_s']:.2f} | {run['throughput_per_s']:.2f} | {run['peak_rss'] / mb:.0f} |"
        )
    first, sizes = report["first_frame"], report["bytes"]
    ort = f"{sizes['ort_web'] / mb:.1f} MiB" if sizes["ort_web"] else "absent"
    lines += [
        "",
        "| measure | value |",
        "| --- | ---: |",
        f"| server start -> answering | {first['start_s']:.2f} s |",
        f"| first 640x360 frame, cold (load + ONNX export) | {first['cold_s']:.2f} s |",
        f"| same frame, warm | {first['warm_s'] * 1000:.0f} ms |",
        f"| webcam 640x360, server mode, one frame in flight | {report['webcam_fps']:.2f} fps |",
        f"| page download (HTML, JS, CSS, JSON) | {sizes['page'] / 1024:.1f} KiB |",
        f"| in-browser mode adds: model ONNX | {sizes['model_onnx'] / mb:.2f} MiB |",
        f"| in-browser mode adds: onnxruntime-web (wasm + js) | {ort} |",
    ]
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    width = round((args.megapixels * 1e6 * 4 / 3) ** 0.5)
    photo, frame = jpeg(width, round(width * 3 / 4)), jpeg(640, 360)
    with tempfile.TemporaryDirectory(prefix="fastnst-bench-demo-") as tmp:
        models, cache = Path(tmp) / "models", Path(tmp) / "cache"
        models.mkdir()
        if args.ckpt:
            (models / args.ckpt.name).symlink_to(args.ckpt.resolve())
        ckpt = (models / args.ckpt.name) if args.ckpt else random_johnson(models)
        started = time.perf_counter()
        process, url = start_server(models, cache, args)
        try:
            start_s = time.perf_counter() - started
            sampler = MemorySampler(process.pid)
            with httpx.Client() as client:
                cold_s, _ = post(client, url, ckpt.name, frame, "jpeg")
                warm_s, _ = post(client, url, ckpt.name, frame, "jpeg")
                sampler.reset()
                load = []
                for clients in args.clients:
                    run = load_run(url, ckpt.name, photo, clients, args.requests)
                    load.append({**run, "peak_rss": sampler.reset()})
                    print(f"{clients} clients: {run}", file=sys.stderr)
                began = time.perf_counter()
                for _ in range(args.webcam_frames):
                    post(client, url, ckpt.name, frame, "jpeg")
                webcam_fps = args.webcam_frames / (time.perf_counter() - began)
            sizes = page_bytes(url, ckpt.name)
            sampler.running = False
        finally:
            process.terminate()
            process.wait(timeout=30)
    report = {
        "device": describe_device(torch.device("cpu")),
        "model": "given checkpoint" if args.ckpt else "random-weight Johnson (width 32, 5 blocks)",
        "workers": args.workers, "queue": args.queue,
        "photo": f"{width}x{round(width * 3 / 4)} ({len(photo) / 1024:.0f} KiB)",
        "first_frame": {"start_s": start_s, "cold_s": cold_s, "warm_s": warm_s},
        "load": load, "webcam_fps": webcam_fps, "bytes": sizes,
    }  # fmt: skip
    markdown = table(report)
    print(markdown)
    write_json(args.out, report)
    args.out.with_suffix(".md").write_text(markdown + "\n")


if __name__ == "__main__":
    main()
