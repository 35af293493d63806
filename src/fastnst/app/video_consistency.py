"""``run_video_consistency(cfg)``: the warping error (Lai et al. 2018) and the style and content
loss of each network, and of each with flow-guided blending, on the first frames of one clip.

The input's optical flow (DIS, both directions, occlusion mask) is computed once and every
variant is scored against it, so the rows are comparable; the input's own warping error is the
floor. The losses are those the first checkpoint was trained with (its ``loss``, ``style`` and
``vgg`` sections), the same for every row. Writes ``video_consistency.json``,
``video_consistency.md``, ``video_consistency_strip.jpg`` (one column per row of the table:
frames t and t+1 of the middle of the clip, then the flicker |W(O_t+1) - O_t| on reliable
pixels, times 4) and, with ``clip=true``, ``video_consistency_clip.gif`` (every frame, the rows
side by side, looping at ``clip_fps``), atomically, never over existing files unless
``overwrite=true``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch import Tensor

from fastnst.app.builders import build_loss
from fastnst.device import describe_device, resolve_device
from fastnst.errors import FastNSTError
from fastnst.flow.dis import flow_pairs
from fastnst.flow.warp import FlowPair, warp
from fastnst.inference.flow_blend import FlowBlend
from fastnst.inference.stylizer import Stylizer
from fastnst.io.atomic import atomic_path, refuse_existing, write_json
from fastnst.io.clip import read_clip
from fastnst.io.grid import image_grid
from fastnst.io.image import tensor_to_pil
from fastnst.losses import PerceptualLoss
from fastnst.models.checkpoint import load_style_checkpoint
from fastnst.video_metrics import warping_error


def _loss(ckpt: str, cache_dir: str, device: torch.device) -> PerceptualLoss:
    """The perceptual loss ``ckpt`` was trained with."""
    trained = load_style_checkpoint(ckpt).config
    if not all(key in trained for key in ("loss", "style", "vgg")):
        raise FastNSTError(f"{ckpt} stores no training config; pass a train.py checkpoint")
    sections = {key: trained[key] for key in ("loss", "style", "vgg")}
    return build_loss(OmegaConf.create({**sections, "paths": {"cache_dir": cache_dir}})).to(device)


@torch.no_grad()
def _losses(
    loss: PerceptualLoss, styled: Tensor, frames: Tensor, batch: int, device: torch.device
) -> dict[str, float]:
    """Frame means of the loss's content and style terms (unweighted) and its total."""
    sums = {"content": 0.0, "style": 0.0, "total": 0.0}
    for out, content in zip(styled.split(batch), frames.split(batch), strict=True):
        terms = loss(out.to(device), content.to(device))
        for key in sums:
            sums[key] += float(terms[key]) * len(out)
    return {key: value / len(frames) for key, value in sums.items()}


def _blend(frames: Tensor, styled: Tensor, strength: float) -> tuple[Tensor, float]:
    """Flow-blended outputs as ``stylize.py flow_blend=`` makes them (DIS ``fast``), and the
    blend's own cost, ms per frame."""
    blend, start = FlowBlend(strength), time.perf_counter()
    out = torch.cat([blend(c[None], s[None]) for c, s in zip(frames, styled, strict=True)])
    return out.clamp(0, 1), 1000 * (time.perf_counter() - start) / len(frames)


def _strip_column(images: Tensor, pairs: list[FlowPair]) -> list[Tensor]:
    """Frames t, t+1 (t the middle of the clip) and their flicker x 4 on reliable pixels."""
    t = (len(images) - 1) // 2
    pair = pairs[t]
    flicker = (warp(images[t + 1 : t + 2], pair.flow) - images[t : t + 1]).abs() * pair.mask
    return [images[t : t + 1], images[t + 1 : t + 2], (4 * flicker).clamp(0, 1)]


def _side_by_side(clips: dict[str, Tensor], path: Path, fps: float) -> None:
    """An animated GIF of every frame, one labelled column per entry of ``clips``."""
    count = len(next(iter(clips.values())))
    height = next(iter(clips.values())).shape[-2]
    pictures = [
        image_grid([[tensor_to_pil(images[t]) for images in clips.values()]], list(clips),
                   height=height)
        for t in range(count)
    ]  # fmt: skip
    with atomic_path(path, overwrite=True) as tmp:
        pictures[0].save(tmp, format="GIF", save_all=True, append_images=pictures[1:],
                         duration=round(1000 / fps), loop=0)  # fmt: skip


def _rows(
    cfg: DictConfig, frames: Tensor, pairs: list, loss: PerceptualLoss, clips: dict
) -> list[dict]:
    """One row of the table per variant; ``clips`` gets each variant's frames by name."""
    device = resolve_device(cfg.device)
    rows = [{"variant": "input (floor)", "warping_error": warping_error(frames, pairs)}]
    clips["input"] = frames
    for name, ckpt in cfg.ckpts.items():
        stylizer = Stylizer.from_checkpoint(ckpt, device=str(device), backend="torch",
                                            batch_size=cfg.batch_size)  # fmt: skip
        start = time.perf_counter()
        styled = stylizer.stylize(frames)
        ms = 1000 * (time.perf_counter() - start) / len(frames)
        outputs = [(str(name), styled, ms, None)]
        if name in cfg.flow_blend:
            blended, extra = _blend(frames, styled, cfg.flow_blend_strength)
            outputs.append((f"{name} + flow_blend", blended, ms + extra, extra))
        for variant, images, total_ms, blend_ms in outputs:
            row = {"variant": variant, "ckpt": str(ckpt), "warping_error":
                   warping_error(images, pairs), "ms_per_frame": total_ms}  # fmt: skip
            row.update(_losses(loss, images, frames, cfg.batch_size, device))
            clips[variant] = images
            if blend_ms is not None:
                row["flow_blend_ms_per_frame"] = blend_ms
            rows.append(row)
    return rows


def _relative(rows: list[dict]) -> None:
    """Add each row's warping error and style loss relative to the first network's."""
    base = rows[1]
    for row in rows:
        row["warping_error_vs_first"] = row["warping_error"] / base["warping_error"] - 1
        if "style" in row:
            row["style_vs_first"] = row["style"] / base["style"] - 1


HEADER = (
    "| variant | warping error | vs first | style loss | vs first | content loss | ms/frame |\n"
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
)


def _line(row: dict) -> str:
    """One table row; the input has no losses or timing."""
    cells = [
        row["variant"],
        f"{row['warping_error']:.5f}",
        f"{100 * row['warping_error_vs_first']:+.1f} %",
    ]
    if "style" in row:
        cells += [f"{row['style']:.4f}", f"{100 * row['style_vs_first']:+.1f} %",
                  f"{row['content']:.4f}", f"{row['ms_per_frame']:.1f}"]  # fmt: skip
    else:
        cells += ["-"] * 4
    return "| " + " | ".join(cells) + " |"


def _markdown(rows: list[dict], meta: dict[str, Any]) -> str:
    (h, w), preset = meta["size"], meta["flow_preset"]
    flow_ms = meta["flow_ms_per_pair"]
    title = (f"{meta['frames']} frames of {meta['input']} at {w}x{h} px; input flow DIS "
             f"{preset}, {flow_ms:.1f} ms per pair (both ways); {meta['device']}")  # fmt: skip
    return "\n".join([title, "", HEADER, *(_line(row) for row in rows)]) + "\n"


def run_video_consistency(cfg: DictConfig) -> dict[str, Path]:
    """Score every ``cfg.ckpts`` entry on ``cfg.input``; returns the paths written."""
    if not cfg.ckpts:
        raise FastNSTError("no networks: pass ckpts='{per_frame: a.ckpt, warp: b.ckpt}'")
    unknown = [name for name in cfg.flow_blend if name not in cfg.ckpts]
    if unknown:
        raise FastNSTError(f"flow_blend names {unknown} that ckpts= does not; use its names")
    out = {kind: Path(cfg.output_dir) / f"video_consistency.{kind}" for kind in ("json", "md")}
    out["strip"] = Path(cfg.output_dir) / "video_consistency_strip.jpg"
    if cfg.clip:
        if cfg.clip_fps <= 0:
            raise FastNSTError(f"clip_fps must be > 0, got {cfg.clip_fps}")
        out["clip"] = Path(cfg.output_dir) / "video_consistency_clip.gif"
    for path in out.values():
        refuse_existing(path, cfg.overwrite)
    frames = read_clip(cfg.input, frames=cfg.frames, size=cfg.size)
    start = time.perf_counter()
    pairs = list(flow_pairs(frames, cfg.flow_preset))
    flow_ms = 1000 * (time.perf_counter() - start) / len(pairs)
    device = resolve_device(cfg.device)
    loss = _loss(next(iter(cfg.ckpts.values())), cfg.paths.cache_dir, device)
    clips: dict[str, Tensor] = {}
    rows = _rows(cfg, frames, pairs, loss, clips)
    _relative(rows)
    meta = {"input": str(cfg.input), "frames": len(frames), "size": list(frames.shape[-2:]),
            "flow_preset": cfg.flow_preset, "flow_ms_per_pair": flow_ms,
            "flow_blend_strength": cfg.flow_blend_strength, "device": describe_device(device),
            "torch": torch.__version__}  # fmt: skip
    write_json(out["json"], {**meta, "rows": rows})
    with atomic_path(out["md"], overwrite=True) as tmp:
        tmp.write_text(_markdown(rows, meta))
    columns = [[tensor_to_pil(image[0]) for image in _strip_column(images, pairs)]
               for images in clips.values()]  # fmt: skip
    grid = image_grid([list(row) for row in zip(*columns, strict=True)], list(clips), height=120)
    with atomic_path(out["strip"], overwrite=True) as tmp:
        grid.save(tmp, quality=90)
    if cfg.clip:
        _side_by_side(clips, out["clip"], cfg.clip_fps)
    return out
