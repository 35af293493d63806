"""The offline quality measures of stylized images of one photo, with the photo as "no style".

    python scripts/measure_quality.py chicago_wave.jpg other.jpg \
        --photo ../shared/data/content/chicago.jpg --painting ../shared/data/styles/great_wave.jpg

Loads every output, the photo and the painting at ``--long-side`` px (long side; an output of
another shape is resized to the photo's) and prints a Markdown table of
:func:`fastnst.quality.quality_measures`: colour and texture distance to the painting (sliced
Wasserstein, lower is closer) and SSIM and edge SSIM to the photo (1 is identical). No
pretrained weights are involved, so the numbers mean the same for random- and ImageNet-VGG
networks; what they cannot tell is whether strokes follow objects.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch.nn.functional as F

from fastnst.io.image import load_image
from fastnst.quality import quality_measures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outputs", nargs="+", type=Path, help="stylized images of the photo")
    parser.add_argument("--photo", type=Path, required=True)
    parser.add_argument("--painting", type=Path, required=True)
    parser.add_argument("--long-side", type=int, default=512)
    args = parser.parse_args()
    photo = load_image(args.photo, long_side=args.long_side)
    painting = load_image(args.painting, long_side=args.long_side)
    rows = {"photo (no style)": photo}
    for path in args.outputs:
        output = load_image(path, long_side=args.long_side)
        if output.shape != photo.shape:
            output = F.interpolate(output, size=photo.shape[-2:], mode="bilinear")
        rows[str(path)] = output
    print("| image | colour SWD to painting | texture SWD | SSIM to photo | edge SSIM |")
    print("|---|---:|---:|---:|---:|")
    for name, image in rows.items():
        m = quality_measures(image, photo, painting)
        print(f"| {name} | {m['color_swd']:.3f} | {m['texture_swd']:.3f} | {m['ssim']:.3f} "
              f"| {m['edge_ssim']:.3f} |")  # fmt: skip


if __name__ == "__main__":
    main()
