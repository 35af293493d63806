"""From an installed fastnst to the first stylized photo with a catalogue model, cold cache.

    python scripts/pretrained_first_photo.py [--photo ../shared/data/content/amber.jpg]
        [--max-size 512] [--out outputs/benchmarks/pretrained_first_photo.json]

No internet: a local HTTP server (127.0.0.1, a free port) serves a ``saved_models.zip`` in
pytorch/examples' layout and sizes (four ``.pth`` of their ``TransformerNet``, random weights,
6.7 MB each), and ``FASTNST_CATALOG`` points the packaged catalogue's ``candy`` entry at it.
With an empty ``FASTNST_CACHE`` it times, each as a new process, as a user would run them:

1. ``fastnst --version`` (the interpreter and package start, for scale);
2. ``fastnst stylize PHOTO --model candy -o out.jpg`` with the cache cold: download, unzip,
   record the hashes, load, stylize, save;
3. the same command again, warm (the cache checked, nothing downloaded);
4. ``fastnst models fetch candy`` alone into another empty cache (the catalogue's own cost).

Prints a table and writes the numbers as JSON. Loopback serving makes the download part a
lower bound: over a real network add the zip's transfer time (about 27 MB).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import torch

from fastnst.models import TransformerNet
from fastnst.models.interop.examples import _PREFIXES

REPO = Path(__file__).resolve().parents[1]
STYLES = ("candy", "mosaic", "rain_princess", "udnie")


def examples_state_dict(seed: int) -> dict[str, torch.Tensor]:
    """A state dict with pytorch/examples' keys and shapes (our network's names mapped back)."""
    torch.manual_seed(seed)
    ours = TransformerNet(width=32, num_residual_blocks=5, head="none").state_dict()
    theirs = {ours_prefix: prefix for prefix, ours_prefix in _PREFIXES.items()}
    state = {}
    for key, value in ours.items():
        prefix, _, param = key.rpartition(".")
        state[f"{theirs[prefix]}.{param}"] = value
    return state


def write_zip(folder: Path) -> Path:
    """``saved_models.zip`` as pytorch/examples publishes it: ``saved_models/<style>.pth``."""
    path = folder / "saved_models.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for seed, style in enumerate(STYLES):
            buffer = io.BytesIO()
            torch.save(examples_state_dict(seed), buffer)
            archive.writestr(f"saved_models/{style}.pth", buffer.getvalue())
    return path


def serve(folder: Path) -> tuple[ThreadingHTTPServer, str]:
    """A quiet file server over ``folder`` on 127.0.0.1 (a free port)."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(folder)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


def local_catalog(path: Path, base: str) -> None:
    """The packaged catalogue with the pytorch/examples zip served from ``base``."""
    data = json.loads((REPO / "src/fastnst/models/catalog.json").read_text())
    data["downloads"]["pytorch_examples/saved_models.zip"]["url"] = f"{base}/saved_models.zip"
    path.write_text(json.dumps(data))


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"error: {' '.join(command)} failed: {result.stderr.strip()[-500:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", type=Path, default=REPO.parent / "shared/data/content/amber.jpg")
    parser.add_argument("--max-size", type=int, default=512, help="long side of the output, px")
    parser.add_argument(
        "--out", type=Path, default=Path("outputs/benchmarks/pretrained_first_photo.json")
    )
    args = parser.parse_args()
    if not args.photo.is_file():
        sys.exit(f"error: photo not found: {args.photo}; pass --photo /path/to/photo.jpg")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "served").mkdir()
        archive = write_zip(tmp / "served")
        httpd, base = serve(tmp / "served")
        local_catalog(tmp / "catalog.json", base)
        env = {**os.environ, "FASTNST_CACHE": str(tmp / "cache"),
               "FASTNST_CATALOG": str(tmp / "catalog.json")}  # fmt: skip
        fastnst = [sys.executable, "-m", "fastnst"]
        stylize = [*fastnst, "stylize", str(args.photo), "--model", "candy", "--device", "cpu",
                   "--max-size", str(args.max_size), "--no-progress"]  # fmt: skip
        results = {
            "version_s": timed([*fastnst, "--version"], env),
            "cold_first_photo_s": timed([*stylize, "-o", str(tmp / "cold.jpg")], env),
            "warm_photo_s": timed([*stylize, "-o", str(tmp / "warm.jpg")], env),
            "fetch_only_cold_s": timed(
                [*fastnst, "models", "fetch", "candy"], {**env, "FASTNST_CACHE": str(tmp / "c2")}
            ),
        }
        httpd.shutdown()
        results.update(
            zip_bytes=archive.stat().st_size, max_size=args.max_size, photo=args.photo.name,
            threads=torch.get_num_threads(), cpu=platform.processor() or platform.machine(),
            note="zip served on loopback; add its transfer time over a real network",
        )  # fmt: skip
    print("| step | seconds |\n|---|---|")
    for key in ("version_s", "cold_first_photo_s", "warm_photo_s", "fetch_only_cold_s"):
        print(f"| {key} | {results[key]:.2f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
