"""Copy onnxruntime-web's WebAssembly backend into the cache for the demo's in-browser mode.

    python scripts/fetch_ort_web.py                 # $FASTNST_CACHE/ort-web (~/.cache/fastnst)
    python scripts/fetch_ort_web.py --dest DIR --version 1.30.0

The same as ``fastnst demo --fetch-ort-web``: ``npm pack onnxruntime-web@VERSION`` from the npm
registry, then ``dist/ort.wasm.min.js`` and the simd-threaded ``.mjs`` and ``.wasm``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fastnst.demo.ortweb import ORT_WEB_VERSION, fetch_ort_web
from fastnst.errors import FastNSTError


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, help="folder (default $FASTNST_CACHE/ort-web)")
    parser.add_argument("--version", default=ORT_WEB_VERSION, help="onnxruntime-web version")
    args = parser.parse_args()
    try:
        print(f"onnxruntime-web {args.version} copied to {fetch_ort_web(args.dest, args.version)}")
    except FastNSTError as err:
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()
