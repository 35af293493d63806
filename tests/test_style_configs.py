"""The bundled style configs: exact keys and types, and checksums that match the dev paintings."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

REPO = Path(__file__).resolve().parents[1]
STYLE_DIR = REPO / "configs" / "style"
SHARED_STYLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "styles"
KEYS = ["name", "title", "artist", "year", "url", "sha256", "image", "size", "weight"]
RAW_URL = re.compile(
    r"https://raw\.githubusercontent\.com/[\w.-]+/[\w.-]+/([0-9a-f]{40}|master|main)/\S+\.\w+"
)
STYLE_FILES = sorted(p for p in STYLE_DIR.glob("*.yaml") if p.stem != "custom")


def _load(path: Path) -> dict[str, Any]:
    """A style yaml as a plain dict, parsed the way Hydra parses it."""
    return OmegaConf.to_container(OmegaConf.load(path))


def test_the_expected_styles_are_bundled() -> None:
    assert {p.stem for p in STYLE_FILES} >= {
        "starry_night", "great_wave", "the_scream", "composition_vii", "udnie",
        "shipwreck_of_the_minotaur", "the_kiss", "water_lilies", "la_grande_jatte",
        "wheat_field_with_cypresses", "mondrian_composition",
    }  # fmt: skip


@pytest.mark.parametrize("path", STYLE_FILES, ids=lambda p: p.stem)
def test_style_config_keys_and_types(path: Path) -> None:
    cfg = _load(path)

    assert list(cfg) == KEYS
    assert cfg["name"] == path.stem
    assert isinstance(cfg["title"], str)
    assert isinstance(cfg["artist"], str)
    assert isinstance(cfg["year"], int)
    assert cfg["year"] < 1929  # published before 1929: public domain in the US
    assert isinstance(cfg["url"], str)
    assert RAW_URL.fullmatch(cfg["url"])
    assert cfg["sha256"] is None or re.fullmatch(r"[0-9a-f]{64}", cfg["sha256"])
    assert cfg["image"] is None
    assert isinstance(cfg["size"], int)
    assert cfg["size"] > 0
    assert isinstance(cfg["weight"], float)
    assert cfg["weight"] > 0


def test_custom_style_requires_an_image() -> None:
    cfg = OmegaConf.load(STYLE_DIR / "custom.yaml")

    assert list(cfg) == KEYS
    assert cfg.name == "custom"
    assert cfg.url is None
    assert OmegaConf.is_missing(cfg, "image")


@pytest.mark.integration
@pytest.mark.parametrize("path", STYLE_FILES, ids=lambda p: p.stem)
def test_style_sha256_matches_dev_painting(path: Path) -> None:
    if not SHARED_STYLES.is_dir():
        pytest.skip(f"dev data not found at {SHARED_STYLES}")
    cfg = _load(path)
    if cfg["sha256"] is None:
        pytest.skip(f"{path.name} pins no sha256 (the dev copy was re-encoded)")
    painting = SHARED_STYLES / f"{cfg['name']}.jpg"

    assert hashlib.sha256(painting.read_bytes()).hexdigest() == cfg["sha256"]
