"""A screenshot of the demo page with a real model: pick it, a painting and a photo, wait.

    python scripts/demo_screenshot.py --models runs/models --model adain.ckpt \
        --paintings ../shared/data/styles --painting the_great_wave.jpg \
        --photo ../shared/data/content/chicago.jpg --out docs/images/demo_adain.png

Serves ``--models`` in this process (uvicorn on 127.0.0.1, a free port), opens the page in
headless Chromium (Playwright, ``/usr/bin/chromium``), chooses the model, the painting (for an
arbitrary-style model) and the photo, waits for the stylized result (server mode) and saves a
full-page screenshot. Refuses to overwrite ``--out`` unless ``--overwrite``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

from fastnst.demo.server import DemoSettings, create_app
from fastnst.io.atomic import atomic_path


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, required=True, help="the demo's model folder")
    parser.add_argument("--model", required=True, help="a file name in --models")
    parser.add_argument("--paintings", type=Path, help="folder of paintings (arbitrary models)")
    parser.add_argument("--painting", help="a painting's name below --paintings")
    parser.add_argument("--photo", type=Path, required=True)
    parser.add_argument("--style-size", type=int, default=256, help="painting short side, px")
    parser.add_argument("--max-size", type=int, default=512, help="result long side, px")
    parser.add_argument("--out", type=Path, default=Path("demo.png"))
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait, at most")
    return parser.parse_args()


def serve(settings: DemoSettings) -> tuple[uvicorn.Server, str]:
    """The demo app on 127.0.0.1 in a daemon thread, and its address."""
    server = uvicorn.Server(uvicorn.Config(create_app(settings), port=0, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    for _ in range(400):
        if server.started:
            break
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/"


def main() -> None:
    args = parse_args()
    if args.out.exists() and not args.overwrite:
        sys.exit(f"error: {args.out} exists; pass --overwrite to replace it")
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    settings = DemoSettings(
        models=args.models, paintings=args.paintings, style_size=args.style_size,
        max_size=args.max_size, backend="torch",
    )  # fmt: skip
    server, url = serve(settings)
    timeout = args.timeout * 1000
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium)
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            page.goto(url)
            page.wait_for_selector("body[data-ready='1']", timeout=timeout)
            page.select_option("#model", args.model)
            if args.painting:
                page.select_option("#painting", args.painting)
                page.wait_for_function(
                    "document.getElementById('painting-preview').complete", timeout=timeout
                )
            page.set_input_files("#file", str(args.photo))
            page.wait_for_function(
                "+document.getElementById('result').dataset.count >= 1 || "
                "document.getElementById('error').textContent", timeout=timeout,
            )  # fmt: skip
            error = page.inner_text("#error")
            if error:
                sys.exit(f"error: the page says: {error}")
            with atomic_path(args.out, overwrite=args.overwrite) as tmp:
                page.screenshot(path=str(tmp), full_page=True)
            browser.close()
    finally:
        server.should_exit = True
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
