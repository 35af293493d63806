"""The demo server under load: latency, throughput, memory, webcam frame rate, page weight.

    python scripts/benchmark_demo.py [--clients 1 4 16] [--requests 2] [--megapixels 1.0]
        [--webcam-frames 20] [--browser-seconds 15] [--workers 1] [--queue 32]
        [--ckpt model.ckpt] [--out outputs/benchmarks/demo_cpu.json]

Starts ``python -m fastnst demo`` on 127.0.0.1 (a free port) with a fresh ``FASTNST_CACHE``,
over one model: ``--ckpt``, or a randomly initialised Johnson network (width 32, 5 residual
blocks, the default; the weights do not change the speed). Then, in this order:

- time to the first stylized frame: process start -> server answering -> first 640x360 frame
  stylized (model load and its one-off ONNX export included), and the same frame warm;
- ``--clients`` concurrent clients, each uploading ``--requests`` JPEG photos of
  ``--megapixels`` MP one after another: latency p50/p95, throughput, errors, the server's
  peak resident memory (sampled every 50 ms) during each run;
- the webcam loop of the page in server mode: 640x360 JPEG frames, one in flight, frames/s;
- the page itself in headless Chromium (Playwright, ``/usr/bin/chromium``) with the fake camera
  fed a 640x360 clip of ``cutBunny.mp4``: webcam mode for ``--browser-seconds`` in server mode
  and in in-browser mode (the model's ONNX in onnxruntime-web, WebAssembly): time to the first
  stylized frame, then frames/s between two frame boundaries at least that long apart, and the
  page's own ``#fps`` readout (frames in its last 2 s, so 0 below 0.5 frames/s). Skipped
  with a printed reason without Playwright, Chromium or the onnxruntime-web copy
  (``python scripts/fetch_ort_web.py``);
- bytes the page downloads: the page and its assets, plus, for in-browser mode, the model's
  ONNX and the onnxruntime-web copy (when present).
Writes a Markdown table (stdout and ``.md``) and the raw numbers as JSON beside it.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
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

from fastnst.demo.ortweb import ORT_WEB_FILES, ort_web_dir, ort_web_ready
from fastnst.device import describe_device
from fastnst.io.atomic import write_json
from fastnst.models import TransformerNet
from fastnst.models.checkpoint import checkpoint_entry

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PHOTO = SHARED_DATA / "content" / "chicago.jpg"
CLIP = SHARED_DATA / "video" / "cutBunny.mp4"
CHROMIUM = "/usr/bin/chromium"
THREADS = "self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1"  # app.js


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--requests", type=int, default=2, help="uploads per client")
    parser.add_argument("--megapixels", type=float, default=1.0)
    parser.add_argument("--webcam-frames", type=int, default=20)
    parser.add_argument(
        "--browser-seconds", type=float, default=15, help="webcam mode in Chromium; 0: skip"
    )
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


def camera_clip(path: Path, frames: int = 50) -> list[str]:
    """Chromium's fake-camera flags, fed the first ``frames`` of ``CLIP`` at 640x360 as .y4m
    (Chromium's own test pattern when the clip is absent)."""
    flags = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
    if not CLIP.is_file():
        return flags
    import av

    with av.open(str(CLIP)) as container, open(path, "wb") as out:
        out.write(b"YUV4MPEG2 W640 H360 F25:1 Ip A1:1 C420jpeg\n")
        for _, frame in zip(range(frames), container.decode(video=0), strict=False):
            planes = frame.reformat(width=640, height=360, format="yuv420p")
            out.write(b"FRAME\n" + planes.to_ndarray().tobytes())
    return [*flags, f"--use-file-for-fake-video-capture={path}"]


def next_frame(page, after: int) -> tuple[int, float]:
    """Wait for the page to show a stylized frame past ``after``: its count and the time."""
    count = "+document.getElementById('result').dataset.count"
    page.wait_for_function(f"{count} > {after}", timeout=600_000)
    return page.evaluate(count), time.perf_counter()


def page_webcam(page, mode: str, seconds: float) -> dict:
    """The page's webcam mode in ``mode`` ("server" or "browser"): time to its first stylized
    frame, then frames/s between two frame boundaries at least ``seconds`` apart, and the page's
    ``#fps`` readout (frames in its last 2 s) at the end."""
    page.check(f"input[name=mode][value={mode}]")
    before = int(page.get_attribute("#result", "data-count"))
    began = time.perf_counter()
    page.click("#webcam")
    first, shown = next_frame(page, before)
    start, t0 = next_frame(page, first)
    page.wait_for_timeout(seconds * 1000)
    end, t1 = next_frame(page, int(page.get_attribute("#result", "data-count")))
    readout = float(page.get_attribute("#fps", "data-fps") or 0)
    page.click("#webcam")
    return {
        "first_frame_s": shown - began, "frames": end - start, "seconds": t1 - t0,
        "fps": (end - start) / (t1 - t0), "page_readout_fps": readout,
        "error": page.inner_text("#error"),
    }  # fmt: skip


def browser_webcam(url: str, model: str, seconds: float, folder: Path) -> dict:
    """Webcam frames/s measured by the page in headless Chromium, per mode; a mode that cannot
    run holds the reason (a string) instead."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return {"server": "Playwright is not installed", "browser": "Playwright is not installed"}
    if not shutil.which(CHROMIUM):
        return {"server": f"{CHROMIUM} is absent", "browser": f"{CHROMIUM} is absent"}
    results: dict = {}
    if not ort_web_ready(ort_web_dir()):
        results["browser"] = "no onnxruntime-web copy: run python scripts/fetch_ort_web.py"
    flags = camera_clip(folder / "camera.y4m")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=flags)
        page = chromium.new_page()
        page.goto(url)
        page.wait_for_selector("body[data-ready='1']", timeout=60_000)
        page.select_option("#model", model)
        results["wasm_threads"] = page.evaluate(THREADS)
        for mode in ("server", "browser"):
            if mode not in results:
                results[mode] = page_webcam(page, mode, seconds)
            print(f"page webcam, {mode} mode: {results[mode]}", file=sys.stderr)
        chromium.close()
    return results


def webcam_row(label: str, run: dict | str | None) -> str:
    """One table row: the page-measured frames/s, or why it was not measured."""
    if not isinstance(run, dict):
        return f"| {label} | not measured: {run or 'skipped (--browser-seconds 0)'} |"
    return (
        f"| {label} | {run['fps']:.2f} fps ({run['frames']} frames in {run['seconds']:.0f} s; "
        f"first after {run['first_frame_s']:.1f} s; page readout {run['page_readout_fps']:.2f}) |"
    )


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
    first, sizes, page = report["first_frame"], report["bytes"], report["page_webcam"]
    ort = f"{sizes['ort_web'] / mb:.1f} MiB" if sizes["ort_web"] else "absent"
    lines += [
        "",
        "| measure | value |",
        "| --- | ---: |",
        f"| server start -> answering | {first['start_s']:.2f} s |",
        f"| first 640x360 frame, cold (load + ONNX export) | {first['cold_s']:.2f} s |",
        f"| same frame, warm | {first['warm_s'] * 1000:.0f} ms |",
        f"| webcam 640x360, server mode, one frame in flight | {report['webcam_fps']:.2f} fps |",
        webcam_row("webcam 640x360, server mode, the page in Chromium", page.get("server")),
        webcam_row(
            f"webcam 640x360, in-browser mode (onnxruntime-web, wasm, "
            f"{page.get('wasm_threads', '?')} threads)",
            page.get("browser"),
        ),
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
            page = {}
            if args.browser_seconds > 0:
                page = browser_webcam(url, ckpt.name, args.browser_seconds, Path(tmp))
        finally:
            process.terminate()
            process.wait(timeout=30)
    report = {
        "device": describe_device(torch.device("cpu")),
        "model": "given checkpoint" if args.ckpt else "random-weight Johnson (width 32, 5 blocks)",
        "workers": args.workers, "queue": args.queue,
        "photo": f"{width}x{round(width * 3 / 4)} ({len(photo) / 1024:.0f} KiB)",
        "first_frame": {"start_s": start_s, "cold_s": cold_s, "warm_s": warm_s},
        "load": load, "webcam_fps": webcam_fps, "bytes": sizes, "page_webcam": page,
    }  # fmt: skip
    markdown = table(report)
    print(markdown)
    write_json(args.out, report)
    args.out.with_suffix(".md").write_text(markdown + "\n")


if __name__ == "__main__":
    main()
