"""Decode and resize a folder of training images once into uint8 shards, fast to read.

    python scripts/prepare_data.py ~/coco/train2014 ~/coco/shards288 --size 288
    python train.py data=shards data.root=~/coco/shards288 data.image_size=256

Store a little larger than ``data.image_size`` (288 for 256) to keep random crops.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from fastnst.errors import FastNSTError
from fastnst.io.image import list_images
from fastnst.training.shards import write_shards


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("images", type=Path, help="folder of images (any tree, any Pillow format)")
    parser.add_argument("out", type=Path, help="shard folder to write")
    parser.add_argument("--size", type=int, default=256, help="side of the stored squares, px")
    parser.add_argument("--shard-size", type=int, default=1024, help="images per shard file")
    parser.add_argument("--workers", type=int, default=None, help="decoding processes")
    parser.add_argument("--overwrite", action="store_true", help="replace existing shards")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    start = time.perf_counter()
    try:
        if not args.images.is_dir():
            raise FastNSTError(f"image folder not found: {args.images}")
        files = list_images(args.images)
        if not files:
            raise FastNSTError(f"no images in {args.images}")
        manifest = write_shards(
            files, args.out, args.size, shard_size=args.shard_size, workers=args.workers,
            overwrite=args.overwrite,
        )  # fmt: skip
    except FastNSTError as err:
        sys.exit(f"error: {err}")
    megabytes = sum(f.stat().st_size for f in args.out.glob("shard_*.npy")) / 2**20
    print(
        f"{manifest['count']} images ({manifest['skipped']} unreadable skipped) -> "
        f"{len(manifest['shards'])} shards, {megabytes:.1f} MB in {args.out} "
        f"({time.perf_counter() - start:.1f} s)"
    )


if __name__ == "__main__":
    main()
