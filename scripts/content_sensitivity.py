"""What a content term charges for a blur and for a change of colour, layer by layer.

    python scripts/content_sensitivity.py --photo ../shared/data/content/chicago.jpg

For one photo x at ``--long-side`` px and the VGG of ``--weights`` (``random``: the seeded
random VGG16 of every random-VGG run here), prints the scale-free content term
E = mean((F(y) - F(x))^2) / mean(F(x)^2) (``loss.content_features=raw``) and the term on
channel-standardized features (``normalized``, Park & Lee 2019) for edits y of the photo:
Gaussian blurs, a blue tint, greyscale and the flat mean colour. It shows why a random-VGG
network is slow to keep edges under the raw term: a blur costs it less than a tint.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torchvision.transforms.functional as TF

from fastnst.io.image import load_image
from fastnst.losses import content_loss, normalized_content_loss
from fastnst.vgg import VGGFeatures

LAYERS = ["relu1_2", "relu2_2", "relu3_3"]


def edits(x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Edited copies of the photo x, (1, 3, H, W) in [0, 1]."""
    tint = torch.tensor([0.6, 0.7, 1.0]).view(1, 3, 1, 1)
    return {
        **{f"blur, sigma {s} px": TF.gaussian_blur(x, 4 * s + 1, s) for s in (1, 2, 4)},
        "blue tint (x 0.6, 0.7, 1)": (x * tint).clamp(0, 1),
        "greyscale": x.mean(1, keepdim=True).expand_as(x),
        "flat mean colour": x.mean((2, 3), keepdim=True).expand_as(x),
    }


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photo", type=Path, required=True)
    parser.add_argument("--long-side", type=int, default=256)
    parser.add_argument("--weights", default="random", help="random | imagenet | a .pth file")
    args = parser.parse_args()
    x = load_image(args.photo, long_side=args.long_side)
    vgg = VGGFeatures("vgg16", LAYERS, weights=args.weights)
    target = vgg(x)
    header = " | ".join(f"{layer} {kind}" for kind in ("raw", "normalized") for layer in LAYERS)
    print(f"| edit | {header} |")
    print("|---" + "|---:" * (2 * len(LAYERS)) + "|")
    for name, y in edits(x).items():
        features = vgg(y)
        raw = [content_loss(features[n], target[n], relative=True) for n in LAYERS]
        normalized = [normalized_content_loss(features[n], target[n]) for n in LAYERS]
        print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in [*raw, *normalized]) + " |")


if __name__ == "__main__":
    main()
