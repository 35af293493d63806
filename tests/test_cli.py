"""Entry points turn user errors, however deeply wrapped, into one line and exit status 1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import REPO
from PIL import Image

from fastnst.app.cli import exit_on_user_error, find_user_error
from fastnst.app.main import main
from fastnst.errors import FastNSTError
from fastnst.models import TransformerNet
from fastnst.models.checkpoint import CHECKPOINT_KEY, PREFIX, checkpoint_entry
from fastnst.version import __version__


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


HEAVY = ("torch", "pytorch_lightning", "fastnst.vgg")
PROBE = """
import runpy, sys
entry, *sys.argv[1:] = sys.argv[1:]
try:
    if entry.endswith(".py"):
        runpy.run_path(entry, run_name="__main__")
    else:
        runpy.run_module(entry, run_name="__main__", alter_sys=True)
finally:
    print("loaded:", *(m for m in HEAVY if m in sys.modules))
"""


def _run(*command: str, cwd: Path = REPO, **env: str) -> subprocess.CompletedProcess[str]:
    """Run an entry point (``path.py`` or a module name) with ``command``'s arguments.

    The entry runs under a probe that prints, even when the command fails, which of ``HEAVY``
    it had imported: a config error must be reported before any of them is loaded.
    """
    probe = PROBE.replace("HEAVY", repr(HEAVY))
    return subprocess.run(
        [sys.executable, "-c", probe, *command], cwd=cwd, capture_output=True, text=True,
        timeout=300, env={**os.environ, **env},
    )  # fmt: skip


def _loaded(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The heavy modules the probed entry point had imported."""
    return result.stdout.strip().splitlines()[-1].split()[1:]


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The single ``error: ...`` line a failed command printed; nothing else on stderr."""
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_stylize_without_output_names_it_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "x.ckpt").write_bytes(b"")
    Image.new("RGB", (8, 8)).save(tmp_path / "y.png")

    result = _run(str(REPO / "stylize.py"), "ckpt=x.ckpt", "input=y.png", cwd=tmp_path)

    assert _one_line_error(result) == (
        "error: missing value for output: pass output=... on the command line"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.ckpt", "y.png"]  # no file '???'
    assert _loaded(result) == []


def test_stylize_mistyped_strength_is_one_line(tmp_path: Path) -> None:
    result = _run(str(REPO / "stylize.py"), "ckpt=x.ckpt", "input=y.png", "output=o.png",
                  "strength=abc", cwd=tmp_path)  # fmt: skip
    assert _one_line_error(result) == (
        "error: strength='abc' is not a valid float; fix it on the command line"
    )


@pytest.mark.parametrize(
    ("entry", "override", "message"),
    [
        ("train.py", "style=custom", "missing value for style.image: pass style.image=... on"),
        ("train.py", "model.width=abc", "model.width='abc' is not a valid int;"),
        ("train.py", "trainer.max_steps=abc", "trainer.max_steps='abc' is not a valid int;"),
        ("fastnst", "model.width=abc", "model.width='abc' is not a valid int;"),
    ],
)
def test_train_config_errors_stop_before_lightning(
    tmp_path: Path, entry: str, override: str, message: str
) -> None:
    command = [str(REPO / entry)] if entry.endswith(".py") else [entry, "train"]
    result = _run(*command, override, "vgg.weights=random", f"hydra.run.dir={tmp_path / 'run'}",
                  FASTNST_CACHE=str(tmp_path / "cache"))  # fmt: skip

    assert _one_line_error(result).startswith(f"error: {message}")
    assert _loaded(result) == []  # neither Lightning nor the VGG (nor torch) was even imported


@pytest.mark.slow
def test_train_with_a_mistyped_data_root_downloads_nothing(
    tmp_path: Path, style_image: Path
) -> None:
    typo = tmp_path / "photso"
    result = _run(str(REPO / "train.py"), f"data.root={typo}", "trainer=cpu", "vgg.weights=random",
                  f"style.image={style_image}", "style.size=64", f"hydra.run.dir={tmp_path}/run",
                  FASTNST_CACHE=str(tmp_path / "cache"))  # fmt: skip

    assert result.stderr.strip().splitlines()[-1] == (
        f"error: image folder not found: {typo}; pass data.root=/path/to/images"
    )
    assert not (tmp_path / "cache" / "coco2017").exists()


def _tiny_checkpoint(path: Path) -> Path:
    """A fastnst checkpoint of a 4-channel transform network, as train.py writes them."""
    torch.manual_seed(0)
    model = TransformerNet(width=4, num_residual_blocks=1, head="sigmoid").eval()
    state = {f"{PREFIX}{key}": value for key, value in model.state_dict().items()}
    entry = checkpoint_entry(model, ["stripes"], {})
    torch.save({"state_dict": state, CHECKPOINT_KEY: entry, "global_step": 1}, path)
    return path


@pytest.mark.parametrize("name", ["IMG 1 (copy).jpg", "a,b.jpg", "x=y.jpg", "[draft] {1}.png"])
def test_fastnst_stylize_takes_plain_file_names(tmp_path: Path, name: str) -> None:
    ckpt = _tiny_checkpoint(tmp_path / "model v2, final.ckpt")
    src = tmp_path / name
    Image.new("RGB", (24, 16), (200, 90, 10)).save(src)
    dst = tmp_path / "out" / f"styled {name}"

    main(["stylize", str(ckpt), str(src), "-o", str(dst), "--device", "cpu", "--no-progress"])

    with Image.open(dst) as out:
        assert out.size == (24, 16)


def test_fastnst_stylize_user_errors_are_one_line(tmp_path: Path) -> None:
    Image.new("RGB", (8, 8)).save(tmp_path / "in.png")
    with pytest.raises(SystemExit) as info:
        main(["stylize", str(tmp_path / "none.ckpt"), str(tmp_path / "in.png"), "-o", "o.png"])
    message = str(info.value.code)
    assert message.startswith(f"error: checkpoint not found: {tmp_path / 'none.ckpt'}")
    assert "\n" not in message


def test_fastnst_unknown_command_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["styliz", "a.jpg"])
    assert str(info.value.code).startswith("error: unknown command 'styliz'; use one of train,")
    main(["--version"])
    assert capsys.readouterr().out.strip() == __version__


def test_demo_takes_key_value_options_like_the_other_commands(monkeypatch) -> None:
    """``fastnst demo models=DIR port=9000`` reaches the demo as ``--models DIR --port 9000``."""
    import fastnst.demo.cli
    from fastnst.app import main as app_main

    seen: list[list[str]] = []
    monkeypatch.setattr(fastnst.demo.cli, "main", lambda argv: seen.append(list(argv)))
    app_main.main(["demo", "models=runs/a=b", "port=9000", "--host", "127.0.0.1"])
    assert seen == [["--models", "runs/a=b", "--port", "9000", "--host", "127.0.0.1"]]
