"""``fastnst demo``: serve the demo page over a folder of models, on 127.0.0.1 by default.

fastnst demo                                # the catalogue's models (fastnst models)
fastnst demo --models runs/                 # http://127.0.0.1:8000/
fastnst demo --models runs/ --paintings art/  # paintings to pick for arbitrary-style models
fastnst demo --fetch-ort-web                # once: the local onnxruntime-web copy (npm)
fastnst demo --models runs/ --host 0.0.0.0  # the whole network can use it: a warning
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from fastnst.errors import FastNSTError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def demo_parser() -> argparse.ArgumentParser:
    """The command's options: the folder, the address, the limits."""
    parser = argparse.ArgumentParser(
        prog="fastnst demo", description="A local web page to try the models of a folder."
    )
    parser.add_argument(
        "--models", type=Path,
        help="folder of .ckpt, .pth and .onnx models (default: the catalogue's cached models)",
    )  # fmt: skip
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1, help="inferences at once")
    parser.add_argument("--queue", type=int, default=8, help="requests waiting; more get 503")
    parser.add_argument("--max-upload-mb", type=float, default=16.0, help="largest upload, MB")
    parser.add_argument("--max-pixels", type=int, default=24_000_000, help="largest upload, px")
    parser.add_argument("--max-size", type=int, default=1536, help="long side of results, px")
    parser.add_argument("--backend", default="auto", choices=["auto", "torch"])
    parser.add_argument("--paintings", type=Path, help="folder of paintings to offer (AdaIN...)")
    parser.add_argument("--style-size", type=int, default=512, help="painting short side, px")
    parser.add_argument("--body-timeout", type=float, default=30.0, help="upload's body, s")
    parser.add_argument("--header-timeout", type=float, default=10.0, help="request headers, s")
    parser.add_argument("--max-header-kb", type=int, default=16, help="request line + headers")
    parser.add_argument("--max-connections", type=int, default=256, help="more get 503")
    parser.add_argument("--ort-web", type=Path, help="onnxruntime-web copy (default: cache)")
    parser.add_argument(
        "--fetch-ort-web", action="store_true", help="download onnxruntime-web with npm first"
    )
    return parser


def main(argv: Sequence[str]) -> None:
    """Parse ``argv``, fetch onnxruntime-web if asked, then serve until Ctrl+C."""
    args = demo_parser().parse_args(argv)
    try:
        serve(args)
    except FastNSTError as err:
        sys.exit(f"error: {err}")


def serve(args: argparse.Namespace) -> None:
    """What ``main`` does once the arguments are parsed."""
    from fastnst.demo.ortweb import fetch_ort_web

    if args.fetch_ort_web:
        folder = fetch_ort_web(args.ort_web)
        print(f"onnxruntime-web copied to {folder}")
        if args.models is None:
            return
    if args.paintings is not None and not args.paintings.is_dir():
        raise FastNSTError(f"painting folder not found: {args.paintings}; pass a folder")
    try:
        import uvicorn

        from fastnst.demo.listener import uvicorn_options
        from fastnst.demo.server import DemoSettings, create_app
    except ImportError as err:
        raise FastNSTError(f"the demo needs pip install 'fastnst[demo]' ({err.name})") from err
    catalog = None
    if args.models is None:  # the catalogue's cached models, with thumbnails
        from fastnst.demo.pretrained import pretrained_catalog

        catalog = pretrained_catalog(
            max_size=args.max_size, backend=args.backend, style_size=args.style_size
        )
        args.models = catalog.folder
    settings = DemoSettings(
        models=args.models, max_bytes=int(args.max_upload_mb * 2**20),
        max_pixels=args.max_pixels, max_size=args.max_size, workers=args.workers,
        queue=args.queue, ort_web=args.ort_web, backend=args.backend,
        paintings=args.paintings, style_size=args.style_size, body_timeout=args.body_timeout,
        header_timeout=args.header_timeout, max_header_bytes=args.max_header_kb * 2**10,
        max_connections=args.max_connections,
    )  # fmt: skip
    app = create_app(settings, catalog)
    if args.host not in LOOPBACK:
        print(
            f"warning: serving on {args.host}: anyone who can reach this machine can use the "
            "page, upload photos and spend its CPU", file=sys.stderr,
        )  # fmt: skip
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"fastnst demo: http://{shown}:{args.port}/ (models in {args.models}; Ctrl+C stops)")
    sys.stdout.flush()
    limits = uvicorn_options(
        header_timeout=settings.header_timeout, max_header_bytes=settings.max_header_bytes,
        max_connections=settings.max_connections,
    )  # fmt: skip
    uvicorn.run(app, host=args.host, port=args.port, **limits)
