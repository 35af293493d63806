"""``check_config``: a missing value or a mistyped key is one line naming key, value and type."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import CONFIGS
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from fastnst.app.schemas import SCHEMAS, check_config
from fastnst.errors import FastNSTError

REQUIRED = {  # the ??? values of each root config, filled so only the case under test fails
    "train": ["style.image=painting.jpg"],
    "stylize": ["ckpt=model.ckpt", "input=photo.jpg", "output=out.jpg"],
    "optimize": ["content=photo.jpg"],
    "compare": ["ckpt=model.ckpt", "content_dir=photos"],
    "ablate": ["content=photo.jpg"],
    "video_consistency": ["input=clip.mp4", "ckpts={per_frame: a.ckpt}"],
}
PLAIN_PATHS = {  # ${hydra:runtime.output_dir} resolves only inside a Hydra main
    command: ["paths.output_dir=out"]
    for command in ("train", "optimize", "compare", "ablate", "video_consistency")
}


def compose_root(command: str, *overrides: str) -> DictConfig:
    """The composed root config of ``command``, with Hydra's run-time paths made plain."""
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return compose(
            config_name=command,
            overrides=[*REQUIRED[command], *PLAIN_PATHS.get(command, []), *overrides],
        )


def user_error(cfg: DictConfig, command: str) -> str:
    with pytest.raises(FastNSTError) as info:
        check_config(cfg, command)
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.width=abc", "model.width='abc' is not a valid int"),
        ("trainer.max_steps=abc", "trainer.max_steps='abc' is not a valid int"),
        ("trainer.max_steps=1.5", "trainer.max_steps=1.5 is not a valid int"),
        ("data.batch_size=two", "data.batch_size='two' is not a valid int"),
        ("optim.lr=fast", "optim.lr='fast' is not a valid float"),
        ("style.size=big", "style.size='big' is not a valid int | None"),
        ("speed.compile=maybe", "speed.compile='maybe' is not a valid bool"),
        ("seed=abc", "seed='abc' is not a valid int"),
    ],
)
def test_mistyped_train_keys(make_cfg, override: str, message: str) -> None:
    assert user_error(make_cfg(override), "train") == f"{message}; fix it on the command line"


def test_custom_style_without_image(make_cfg) -> None:
    cfg = make_cfg("style=custom", "style.image=???")
    message = user_error(cfg, "train")
    assert message == "missing value for style.image: pass style.image=... on the command line"


def test_valid_train_config_passes(make_cfg) -> None:
    check_config(make_cfg("model.width=8", "trainer.max_steps=3", "optim.lr=1e-4"), "train")


@pytest.mark.parametrize(
    ("command", "overrides", "message"),
    [
        ("stylize", ["strength=abc"], "strength='abc' is not a valid float"),
        ("stylize", ["overwrite=maybe"], "overwrite='maybe' is not a valid bool"),
        ("stylize", ["tile=big"], "tile='big' is not a valid int | None"),
        ("optimize", ["iterations=many"], "iterations='many' is not a valid int"),
        ("optimize", ["solver.noise_ratio=half"], "solver.noise_ratio='half' is not a valid float"),
        ("compare", ["iterations=[50,lots]"], "iterations=[50, 'lots'] is not a valid list[int]"),
        ("ablate", ["solver.iterations=x"], "solver.iterations='x' is not a valid int"),
        ("ablate", ["columns=wide"], "columns='wide' is not a valid int"),
    ],
)
def test_mistyped_keys_of_every_command(command: str, overrides: list[str], message: str) -> None:
    cfg = compose_root(command, *overrides)
    assert user_error(cfg, command) == f"{message}; fix it on the command line"


@pytest.mark.parametrize("key", ["ckpt", "output"])
def test_stylize_missing_values_name_the_option(key: str) -> None:
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        given = [o for o in REQUIRED["stylize"] if not o.startswith(f"{key}=")]
        cfg = compose(config_name="stylize", overrides=given)
    assert (
        user_error(cfg, "stylize") == f"missing value for {key}: pass {key}=... on the command line"
    )


@pytest.mark.parametrize("command", sorted(SCHEMAS))
def test_defaults_pass_and_every_schema_key_exists(command: str) -> None:
    cfg = compose_root(command)
    check_config(cfg, command)  # the shipped defaults are valid
    for section, schema in SCHEMAS[command]:
        node = OmegaConf.select(cfg, section) if section else cfg
        stale = [
            f.name
            for f in dataclasses.fields(schema)
            if f.name not in node and not OmegaConf.is_missing(node, f.name)
        ]
        assert stale == [], f"{command}: {section or 'root'} has no {stale}: update schemas.py"
