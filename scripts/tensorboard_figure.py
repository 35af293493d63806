"""Screenshots of TensorBoard for one run, side by side (the README's TensorBoard figure).

    python scripts/tensorboard_figure.py /tmp/tb_run docs/images/tensorboard.jpg

Starts ``tensorboard --logdir LOGDIR`` on 127.0.0.1 only and opens it in headless Chromium through
Playwright (``--chromium``: a browser binary, so Playwright's own download is not needed). Left:
the Time Series tab filtered to the scalar tags ``--tags``; right: the sample grid of the Images
tab at its last step (the Time Series image card crops a tall grid). JPEG when OUTPUT ends in .jpg.
"""

from __future__ import annotations

import argparse
import io
import socket
import subprocess
import sys
import time
import urllib.request

from PIL import Image
from playwright.sync_api import Page, sync_playwright

TAGS = r"^(train/(total|content|style)|val/(style|color_swd|ssim))$"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            if time.monotonic() > deadline:
                message = f"TensorBoard did not answer at {url} within {seconds:.0f} s"
                raise SystemExit(message) from None
            time.sleep(1)


def scalars(page: Page, base: str, tags: str) -> Image.Image:
    """The Time Series cards whose tag matches ``tags``, whole range, side pane closed."""
    page.goto(f"{base}?darkMode=false#timeseries")
    page.wait_for_selector("line-chart", timeout=60_000)
    page.locator("input[placeholder='Filter tags (regex)']").fill(tags)
    page.keyboard.press("Escape")
    page.get_by_label("Ignore outliers in chart scaling").uncheck()  # show the whole fall
    smoothing = page.locator("input.slider-input[type=number]").first
    smoothing.fill("0")  # the raw values: one line per card, in the chart's range
    smoothing.dispatch_event("input")
    smoothing.press("Enter")
    page.locator("button[aria-label='Close side pane']").click()
    page.wait_for_timeout(3000)
    for button in page.locator("button[aria-label='Fit line chart domains to data']").all():
        if button.is_visible() and button.is_enabled():
            button.click()
    page.wait_for_timeout(2000)  # let every card draw
    bottom = page.evaluate(
        "() => Math.max(...Array.from(document.querySelectorAll('card-view'))"
        ".map(e => e.getBoundingClientRect().bottom))"
    )
    width = page.viewport_size["width"]
    return Image.open(io.BytesIO(page.screenshot(clip={"x": 0, "y": 0, "width": width,
                                                       "height": bottom + 16})))  # fmt: skip


def samples(page: Page, base: str) -> Image.Image:
    """The ``samples/content_stylized`` card of the Images tab (its last step)."""
    page.goto(f"{base}?darkMode=false#images")
    card = page.locator("tf-image-loader").first
    card.locator("img").wait_for(timeout=60_000)
    page.wait_for_timeout(2000)
    return Image.open(io.BytesIO(card.screenshot()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logdir")
    parser.add_argument("output")
    parser.add_argument("--tags", default=TAGS, help="regex of the scalar cards to show")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--width", type=int, default=1500, help="browser width for the scalars")
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", args.logdir,
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}/"
        wait_for(base + "data/runs")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=args.chromium, args=["--no-sandbox"]
            )
            page = browser.new_page(viewport={"width": args.width, "height": 2400})
            left, right = scalars(page, base, args.tags), samples(page, base)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    size = (left.width + right.width + 16, max(left.height, right.height + 16))
    figure = Image.new("RGB", size, (243, 243, 243))
    figure.paste(left.convert("RGB"), (0, 0))
    figure.paste(right.convert("RGB"), (left.width + 8, 8))
    options = {"quality": 85} if args.output.endswith(".jpg") else {"optimize": True}
    figure.save(args.output, **options)
    print(args.output, figure.size)


if __name__ == "__main__":
    main()
