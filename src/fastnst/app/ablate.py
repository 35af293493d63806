"""What each loss option does: the solver on one content/style pair for a list of loss configs.

    python scripts/ablate.py content=photo.jpg style=great_wave output=ablation.png

Writes a labelled grid PNG (content, style, one optimized image per variant) and a table of the
final loss terms (``<table>.md``, ``<table>.json``). Variants are lists of config overrides in
``configs/ablate.yaml`` (``variants``), composed on top of the command line.
"""

from __future__ import annotations

import logging
from pathlib import Path

from hydra import compose
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from PIL import Image

from fastnst.app.builders import check_per_style_loss, style_from_config
from fastnst.color import transfer_luminance
from fastnst.errors import FastNSTError
from fastnst.io.atomic import atomic_path, write_json
from fastnst.io.image import load_image, save_image, tensor_to_pil
from fastnst.losses import PerceptualLoss, combine_layers
from fastnst.solver import SolverConfig, optimize
from fastnst.solver.figures import image_grid

log = logging.getLogger("ablate")


def plain_style(loss: PerceptualLoss, terms: dict[str, float]) -> float:
    """sum_l b_l E_l from a term dict, whatever the layer combination of ``loss``."""
    per_term = {key: terms[f"style_{key}"] for key in loss.style_term_weights}
    return float(combine_layers(per_term, loss.style_term_weights))


def run_variant(cfg: DictConfig, overrides: list[str], content, style) -> tuple[Image.Image, dict]:
    """Build the variant's loss, (balance its style weight,) optimize, return image and row."""
    variant_cfg = compose(
        config_name="ablate", overrides=[*HydraConfig.get().overrides.task, *overrides]
    )
    loss: PerceptualLoss = instantiate(variant_cfg.loss)
    loss.set_style(style, content=content)  # content is used by luminance_only alone
    start = {key: float(value) for key, value in loss(content, content).items()}
    if cfg.balance_style is not None:
        loss.style_weight = cfg.balance_style / max(plain_style(loss, start), 1e-30)
    result = optimize(loss, content, SolverConfig(**cfg.solver))
    image = transfer_luminance(result.image, content) if loss.luminance_only else result.image
    row = {
        "overrides": " ".join(overrides),
        "style_weight": loss.style_weight,
        "style_start": plain_style(loss, start),
        "style_final": plain_style(loss, result.terms),
        "content_final": result.terms["content"],
        "tv_final": result.terms["tv"],
        "total_final": result.terms["total"],
        "seconds": result.seconds,
    }
    row["style_ratio"] = row["style_final"] / max(row["style_start"], 1e-30)
    return tensor_to_pil(image[0]), row


def write_table(rows: dict[str, dict], stem: Path, cfg: DictConfig) -> None:
    """``<stem>.json`` (all numbers, run settings) and ``<stem>.md`` (a Markdown table).

    Both are written atomically, so a crash never leaves half a table behind.
    """
    settings = {
        "vgg": OmegaConf.to_container(cfg.vgg),
        "solver": OmegaConf.to_container(cfg.solver),
    }
    settings |= {"content": cfg.content, "style": cfg.style.name, "size": cfg.size}
    write_json(stem.with_suffix(".json"), {"settings": settings, "rows": rows})
    header = ["variant", "overrides", "style weight", "style start", "style final"]
    header += ["final / start", "content final", "s"]
    lines = ["| " + " | ".join(header) + " |", "|---|---|" + "---:|" * 6]
    for label, r in rows.items():
        lines.append(
            f"| {label} | `{r['overrides']}` | {r['style_weight']:.3g} | {r['style_start']:.3g} | "
            f"{r['style_final']:.3g} | {r['style_ratio']:.3f} | {r['content_final']:.3g} | "
            f"{r['seconds']:.1f} |"
        )
    with atomic_path(stem.with_suffix(".md")) as tmp:
        tmp.write_text("\n".join(lines) + "\n")


def grid(tiles: dict[str, Image.Image], columns: int, height: int) -> Image.Image:
    """Labelled tiles, ``columns`` per row, rows stacked."""
    labels = list(tiles)
    chunks = [labels[i : i + columns] for i in range(0, len(labels), columns)]
    parts = [
        image_grid([[tiles[label] for label in chunk]], chunk, height=height) for chunk in chunks
    ]
    out = Image.new("RGB", (max(p.width for p in parts), sum(p.height for p in parts)), "white")
    for index, part in enumerate(parts):
        out.paste(part, (0, sum(p.height for p in parts[:index])))
    return out


def run_ablation(cfg: DictConfig) -> None:
    """Run every variant of ``cfg.variants`` and write the grid and the tables."""
    check_per_style_loss(cfg)
    outputs = [
        Path(cfg.output),
        Path(cfg.table).with_suffix(".md"),
        Path(cfg.table).with_suffix(".json"),
    ]
    existing = [str(path) for path in outputs if path.exists()]
    if existing and not cfg.overwrite:
        raise FastNSTError(
            f"{', '.join(existing)} exist; pass overwrite=true or other output=/table="
        )
    content = load_image(cfg.content, long_side=cfg.size)
    style = style_from_config(cfg.style, cfg.paths.cache_dir)
    tiles = {"content": tensor_to_pil(content[0]), "style": tensor_to_pil(style[0])}
    rows = {}
    unknown = set(cfg.only or []) - set(cfg.variants)
    if unknown:
        raise FastNSTError(
            f"only= names unknown variants {sorted(unknown)}; see configs/ablate.yaml"
        )
    for label, overrides in cfg.variants.items():
        if cfg.only is not None and label not in cfg.only:
            continue
        tiles[label], rows[label] = run_variant(cfg, list(overrides), content, style)
        log.info("%s: style %.3g -> %.3g in %.1f s", label, rows[label]["style_start"],
                 rows[label]["style_final"], rows[label]["seconds"])  # fmt: skip
    save_image(grid(tiles, cfg.columns, cfg.tile_height), cfg.output, overwrite=cfg.overwrite)
    write_table(rows, Path(cfg.table), cfg)
    print(Path(cfg.table).with_suffix(".md").read_text())
