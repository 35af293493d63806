"""Each reference recipe against its reference's own objective, term by term.

    python scripts/reference_equivalence.py [--sizes 32x40 48x56] [--seed 0] \
        [--dtype float64] [--output reference_equivalence.json]

For ``loss=examples`` (pytorch/examples), ``johnson2016`` (jcjohnson/fast-neural-style),
``magenta`` (Magenta image_stylization), ``gatys2016`` (Gatys et al. 2016), ``tutorial`` (the
PyTorch neural-style tutorial) and ``adain`` (pytorch-AdaIN's ``Net``), builds our loss from
the real configs on a seeded random VGG and the reference's objective re-implemented from its
published code (tests/reference_objectives.py, tests/adain_equivalence.py) on the same
weights, then prints a Markdown table (reference, size, term, ratio ours / theirs, cosine of
the two pixel gradients of that term) and writes it as JSON. docs/references.md
explains each recipe. Runs from a checkout (it reads tests/ and configs/), on a CPU in seconds.
"""

from __future__ import annotations

import argparse
import logging
import sys
from functools import partial
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from adain_equivalence import compare_adain  # noqa: E402
from reference_recipes import REFERENCES, compare, worst  # noqa: E402

from fastnst.io.atomic import write_json  # noqa: E402


def parse_size(text: str) -> tuple[int, int]:
    height, _, width = text.partition("x")
    return int(height), int(width or height)


def table(rows: list[dict[str, object]]) -> str:
    lines = [
        "| reference | size | term | ours | theirs | ratio - 1 | gradient cosine |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['reference']} | {r['size']} | {r['term']} | {r['ours']:.6g} | "
            f"{r['theirs']:.6g} | {r['ratio'] - 1:+.1e} | {r['cosine']:.12f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["32x40", "48x56"], help="HxW of the images")
    recipes = [*sorted(REFERENCES), "adain"]
    parser.add_argument("--recipes", nargs="+", default=recipes, choices=recipes)
    parser.add_argument("--seed", type=int, default=0, help="of the VGG weights and the images")
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    parser.add_argument("--output", type=Path, default=Path("reference_equivalence.json"))
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the random-VGG warning, once per loss
    dtype = getattr(torch, args.dtype)
    rows = [
        row
        for recipe in args.recipes
        for size in args.sizes
        for row in (compare_adain if recipe == "adain" else partial(compare, recipe))(
            parse_size(size), args.seed, dtype
        )
    ]
    ratio, cosine = worst(rows)
    print(table(rows))
    print(f"\nworst |ratio - 1| {ratio:.1e}, lowest gradient cosine 1 - {1 - cosine:.1e}")
    write_json(args.output, {
        "sizes": args.sizes, "seed": args.seed, "dtype": args.dtype, "rows": rows,
        "worst_ratio_error": ratio, "worst_cosine": cosine,
    })  # fmt: skip


if __name__ == "__main__":
    main()
