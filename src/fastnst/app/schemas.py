"""Typed schemas of the configs: a wrong type or a missing value is one line naming the key.

Hydra composes plain YAML; before a command runs, :func:`check_config` checks every key a
schema below declares (dataclasses, as in Hydra's structured configs) and reports the first
problem as ``model.width='abc' is not a valid int``. Keys the schemas do not declare (any
Lightning ``Trainer`` argument, loss options) pass through unchanged.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import (
    InterpolationResolutionError,
    MissingMandatoryValue,
    ValidationError,
)

from fastnst.errors import FastNSTError


@dataclass
class TrainSchema:
    seed: int = 0
    ckpt_path: str | None = None
    styles: Any = None  # null, a list of painting names / image paths, or a set's name
    init_from: str | None = None


@dataclass
class ModelSchema:
    width: int = 32
    num_residual_blocks: int = 5
    head: str = "none"


@dataclass
class StyleSchema:
    name: str = "custom"
    image: str | None = None
    url: str | None = None
    sha256: str | None = None
    size: int | None = 512
    weight: float = 1.0


@dataclass
class DataSchema:
    root: str = ""
    image_size: int = 256
    batch_size: int = 4
    num_workers: int | None = None
    val_images: int = 8


@dataclass
class TrainerSchema:
    max_steps: int = 40000
    max_epochs: int = -1
    val_check_interval: float = 1000
    limit_val_batches: float = 4
    log_every_n_steps: int = 10
    devices: Any = 1
    precision: str = "32-true"


@dataclass
class OptimSchema:
    lr: float = 1e-3
    scheduler: str | None = None


@dataclass
class SamplesSchema:
    every_n_steps: int = 500
    count: int = 4


@dataclass
class SpeedSchema:
    channels_last: bool = True
    compile: bool = False


@dataclass
class VGGSchema:
    weights: str = "imagenet"
    pooling: str = "max"
    seed: int = 0
    input_norm: str = "auto"


@dataclass
class TemporalSchema:
    """The ``temporal`` group (none, noise, warp, flow); the options of one loss are checked by
    ``fastnst.app.builders.build_temporal``."""

    weight: float = 0.0


@dataclass
class StylizeSchema:
    ckpt: str = ""
    input: str | None = None
    output: str = ""
    export: str | None = None
    overwrite: bool = False
    device: str = "auto"
    size: int | None = None
    max_size: int | None = None
    strength: float = 1.0
    preserve_color: str | None = None
    tile: int | None = None
    tile_overlap: int = 64
    batch_size: int = 4
    backend: str = "auto"
    channels_last: bool = False
    precision: str = "auto"
    progress: bool = True
    style: Any = None  # a name or a {name: weight} blend
    sheet: bool = False
    strip: Any = None  # two style names
    flow_blend: float | None = None
    strip_steps: int = 5
    style_image: Any = None  # a painting's path, or a list of them
    style_image_weights: Any = None
    alpha: float = 1.0
    style_size: int | None = 512


@dataclass
class SolverSchema:
    """The ``solver`` group (lbfgs, adam): :class:`fastnst.solver.SolverConfig` less iterations."""

    optimizer: str = "lbfgs"
    history_size: int = 100
    lr: float | None = None
    line_search: str | None = "strong_wolfe"
    init: str = "content"
    noise_ratio: float = 0.6
    pyramid_levels: int = 1
    pyramid_scale: float = 0.5
    seed: int = 0


@dataclass
class OptimizeSchema:
    content: str = ""
    output: str = ""
    size: int | None = None
    iterations: int = 500
    preserve_color: str | None = None
    overwrite: bool = False
    device: str = "auto"
    progress: bool = True
    snapshot_every: int = 0
    gif: bool = False
    tensorboard: bool = False


@dataclass
class CompareSchema:
    ckpt: str = ""
    content_dir: str = ""
    loss_from: str = "ckpt"
    iterations: list[int] = dataclasses.field(default_factory=list)
    size: int | None = 256
    max_images: int | None = None
    device: str = "auto"
    output_dir: str = ""
    grid_height: int = 160
    warmup: int = 2
    repeats: int = 5
    progress: bool = True


@dataclass
class AblateSchema:
    content: str = ""
    size: int | None = 192
    output: str = ""
    table: str = ""
    overwrite: bool = False
    columns: int = 7
    tile_height: int = 80
    balance_style: float | None = 100.0


@dataclass
class AblateSolverSchema:
    """``ablate.yaml``'s own ``solver`` section, the base of every variant."""

    optimizer: str = "lbfgs"
    iterations: int = 100
    init: str = "content"


@dataclass
class VideoConsistencySchema:
    input: str = ""
    ckpts: Any = None  # {name: checkpoint}
    flow_blend: list[str] = dataclasses.field(default_factory=list)
    flow_blend_strength: float = 0.5
    frames: int | None = 40
    size: int | None = 128
    flow_preset: str = "medium"
    device: str = "auto"
    batch_size: int = 8
    output_dir: str = ""
    overwrite: bool = False


# command -> (config section, schema); "" is the root of the config
SCHEMAS: dict[str, list[tuple[str, type]]] = {
    "train": [("", TrainSchema), ("model", ModelSchema), ("style", StyleSchema),
              ("data", DataSchema), ("trainer", TrainerSchema), ("optim", OptimSchema),
              ("samples", SamplesSchema), ("speed", SpeedSchema), ("vgg", VGGSchema),
              ("temporal", TemporalSchema)],
    "stylize": [("", StylizeSchema)],
    "optimize": [("", OptimizeSchema), ("style", StyleSchema), ("vgg", VGGSchema),
                 ("solver", SolverSchema)],
    "compare": [("", CompareSchema), ("style", StyleSchema), ("vgg", VGGSchema),
                ("solver", SolverSchema)],
    "ablate": [("", AblateSchema), ("style", StyleSchema), ("vgg", VGGSchema),
               ("solver", AblateSolverSchema)],
    "video_consistency": [("", VideoConsistencySchema)],
}  # fmt: skip


def check_config(cfg: DictConfig, command: str) -> None:
    """Raise a one-line FastNSTError for the first missing value or mistyped key of ``cfg``."""
    try:
        OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except MissingMandatoryValue as err:
        key = err.full_key
        raise FastNSTError(f"missing value for {key}: pass {key}=... on the command line") from err
    except InterpolationResolutionError as err:
        reason = (str(err.msg).strip().splitlines() or ["unknown reason"])[0]
        raise FastNSTError(f"cannot resolve {err.full_key}: {reason}") from err
    for section, schema in SCHEMAS[command]:
        node = OmegaConf.select(cfg, section) if section else cfg
        if isinstance(node, DictConfig):
            _check_section(node, section, schema)


def _check_section(node: DictConfig, section: str, schema: type) -> None:
    typed = OmegaConf.structured(schema)
    for field in dataclasses.fields(schema):
        if field.name not in node:
            continue
        value = node[field.name]
        try:
            typed[field.name] = value
        except ValidationError as err:
            key = f"{section}.{field.name}" if section else field.name
            expected = getattr(field.type, "__name__", str(field.type))
            raise FastNSTError(
                f"{key}={value!r} is not a valid {expected}; fix it on the command line"
            ) from err
