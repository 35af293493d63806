"""Entry points turn user errors, however deeply wrapped, into one line and exit status 1."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO

from fastnst.app.cli import exit_on_user_error, find_user_error
from fastnst.errors import FastNSTError


def _wrapped() -> None:
    try:
        raise FastNSTError("style image not found: x.jpg; pass style.image=/path/to/painting.jpg")
    except FastNSTError as err:
        raise RuntimeError("Error in call to target 'fastnst.losses.vgg_perceptual_loss'") from err


def test_user_error_is_found_through_wrappers() -> None:
    with pytest.raises(RuntimeError) as info:
        _wrapped()
    assert "style.image=" in str(find_user_error(info.value))
    assert find_user_error(ValueError("a bug")) is None


def test_decorated_main_exits_with_one_line_and_reraises_bugs() -> None:
    with pytest.raises(SystemExit) as info:
        exit_on_user_error(_wrapped)()
    assert str(info.value.code).startswith("error: style image not found")

    @exit_on_user_error
    def buggy() -> None:
        raise ZeroDivisionError("a bug keeps its traceback")

    with pytest.raises(ZeroDivisionError):
        buggy()


def test_train_cli_reports_a_missing_style_image(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "train.py", f"style.image={tmp_path / 'nope.jpg'}", "vgg.weights=random",
         f"hydra.run.dir={tmp_path / 'run'}"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    missing = tmp_path / "nope.jpg"
    hint = "pass style.image=/path/to/painting.jpg"
    assert last == f"error: style image not found: {missing}; {hint}"
