"""Command-line overrides a command does not take, refused in one line naming what it does take.

Hydra answers an override of a key its root config lacks with several lines (``Could not
override 'loss'. No match in the defaults list.``, ``Key 'foo' is not in struct``). Before Hydra
composes anything, :func:`check_overrides` compares the top-level key of each plain override
(``key=value`` or ``key.sub=value``; ``+key``, ``++key`` and ``~key`` are left to Hydra) with
what the command's root config declares: its own keys, its config groups, and the keys the
options of its ``experiment`` group set. A key the command lacks is one line: which entry points
have it, which keys this one takes, and the nearest spelling.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, ListConfig, OmegaConf

from fastnst.errors import FastNSTError

ROOTS = ("train", "stylize", "optimize", "compare", "ablate", "video_consistency")
VALUE_FLAGS = {"--cfg", "-c", "--package", "-p", "--config-path", "-cp", "--config-name", "-cn",
               "--config-dir", "-cd", "--experimental-rerun"}  # fmt: skip
INFO_CHOICES = {"all", "config", "defaults", "defaults-tree", "plugins", "searchpath"}


def root_keys(root: str) -> set[str]:
    """Top-level keys of the root config ``root``: its keys, groups and experiments' keys."""
    cfg = _load(f"{root}.yaml")
    keys = {str(key) for key in cfg if key != "defaults"} | {"hydra"}
    for entry in cfg.get("defaults", []):
        if isinstance(entry, DictConfig):
            group = str(next(iter(entry.keys())))
            if not group.startswith("override "):
                keys.add(group.removeprefix("optional ").split("@")[0].strip())
    if "experiment" in keys:
        folder = files("fastnst.configs").joinpath("experiment")
        for path in folder.iterdir():
            if path.name.endswith(".yaml"):
                keys |= {str(key) for key in _load(f"experiment/{path.name}") if key != "defaults"}
    return keys


def check_overrides(root: str, argv: Sequence[str]) -> None:
    """Raise a one-line FastNSTError for the first override of ``argv`` that ``root`` lacks.

    Args:
        root: The root config's name (``"stylize"``).
        argv: ``sys.argv``: the program's name, then Hydra's flags and overrides.
    """
    keys = root_keys(root)
    program = Path(argv[0]).name if argv else root
    for word in _override_words(argv[1:]):
        try:
            (override,) = OverridesParser.create().parse_overrides([word])
        except HydraException:
            continue  # Hydra reports its own grammar errors
        if override.is_add() or override.is_force_add() or override.is_delete():
            continue
        key = override.key_or_group.replace("/", ".").split(".")[0]
        if key not in keys:
            raise FastNSTError(_message(program, root, key, keys))


def _message(program: str, root: str, key: str, keys: set[str]) -> str:
    owners = [name for name in ROOTS if name != root and key in root_keys(name)]
    near = difflib.get_close_matches(key, keys, n=1)
    if owners:
        why = f" (a key of {', '.join(owners)})"
    else:
        why = f" (did you mean {near[0]}=?)" if near else ""
    taken = ", ".join(sorted(keys - {"hydra"}))
    return f"{program} takes no {key}={why}; it takes: {taken}"


def _override_words(words: Sequence[str]) -> list[str]:
    """The overrides among Hydra's command-line words (flags and their values dropped)."""
    overrides, skip = [], False
    for index, word in enumerate(words):
        if skip:
            skip = False
        elif word in VALUE_FLAGS:
            skip = True
        elif word in ("--info", "-i"):
            skip = index + 1 < len(words) and words[index + 1] in INFO_CHOICES
        elif not word.startswith("-"):
            overrides.append(word)
    return overrides


def _load(name: str) -> DictConfig | ListConfig:
    return OmegaConf.create(files("fastnst.configs").joinpath(name).read_text())
