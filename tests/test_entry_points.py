"""Every entry point: an option, loss or group that does not apply is one line naming what does;
``python stylize.py style=NAME`` (and a blend) picks a multi-style network's style."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import CONFIGS
from hydra import compose, initialize_config_dir
from PIL import Image
from test_arbitrary_stylize import save_adain_checkpoint
from test_demo_api import photo_bytes, save_checkpoint, tiny_model
from test_multistyle import NAMES, multi_model

from fastnst.app import commands
from fastnst.app.builders import arbitrary_losses
from fastnst.app.overrides import check_overrides, root_keys
from fastnst.app.solver_runs import run_compare, run_optimize
from fastnst.errors import FastNSTError
from fastnst.inference import Stylizer
from fastnst.inference.command import run
from fastnst.models.checkpoint import CHECKPOINT_KEY, checkpoint_entry


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("entry")
    model = multi_model()
    state = {f"transformer.{k}": v for k, v in model.state_dict().items()}
    multi = folder / "multi.ckpt"
    torch.save({"state_dict": state, CHECKPOINT_KEY: checkpoint_entry(model, NAMES, {})}, multi)
    (folder / "photo.png").write_bytes(photo_bytes(40, 32))
    (folder / "painting.png").write_bytes(photo_bytes(32, 32))
    return {
        "multi": multi, "photo": folder / "photo.png", "painting": folder / "painting.png",
        "single": save_checkpoint(tiny_model(), folder / "single.ckpt", ["stripes"]),
        "adain": save_adain_checkpoint(folder / "adain.ckpt"),
    }  # fmt: skip


def main_exit(monkeypatch: pytest.MonkeyPatch, main, argv: list[str]) -> str:
    """The one-line message a real Hydra main exits with."""
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as info:
        main()
    message = str(info.value.code)
    assert message.startswith("error: ") and "\n" not in message
    return message


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255


@pytest.mark.parametrize(
    ("style", "weights"),
    [("great_wave", [0.0, 1.0, 0.0]), ("{starry_night: 0.7, the_scream: 0.3}", [0.7, 0.0, 0.3])],
)
def test_stylize_py_takes_a_style_name_or_blend(
    files, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, style: str, weights: list[float]
) -> None:
    out = tmp_path / "out.png"
    monkeypatch.setattr(sys, "argv", [
        "stylize.py", f"ckpt={files['multi']}", f"input={files['photo']}", f"output={out}",
        f"style={style}", "device=cpu", "backend=torch", "precision=fp32", "progress=false",
    ])  # fmt: skip
    commands.stylize_main()
    content = torch.from_numpy(pixels(files["photo"])).permute(2, 0, 1)[None].float()
    with torch.no_grad():  # the network itself, with the style weights written out by hand
        expected = multi_model()(content, torch.tensor([weights])).clamp(0, 1)[0]
    got = torch.from_numpy(pixels(out)).permute(2, 0, 1).float()
    assert (got - expected).abs().max() <= 0.5 / 255 + 1e-5  # the PNG's uint8 rounding
    with torch.no_grad():
        other = multi_model()(content, torch.tensor([[1.0, 0.0, 0.0]])).clamp(0, 1)[0]
    assert (got - other).abs().max() > 10 / 255  # the choice changed the image


@pytest.mark.parametrize(
    ("main", "argv", "fragments"),
    [
        ("stylize_main", ["stylize.py", "ckpt=a", "output=b", "loss=adain"],
         ["stylize.py takes no loss= (a key of train, optimize, compare, ablate)", "style_image"]),
        ("stylize_main", ["stylize.py", "ckpt=a", "output=b", "strenght=0.5"],
         ["takes no strenght= (did you mean strength=?)"]),
        ("optimize_main", ["optimize.py", "content=a.jpg", "model=adain"],
         ["optimize.py takes no model= (a key of train)", "solver"]),
        ("train_main", ["train.py", "solver=adam"],
         ["train.py takes no solver= (a key of optimize, compare, ablate)", "trainer"]),
    ],
)  # fmt: skip
def test_a_key_of_another_command_is_one_line_naming_what_applies(
    monkeypatch: pytest.MonkeyPatch, main: str, argv: list[str], fragments: list[str]
) -> None:
    message = main_exit(monkeypatch, getattr(commands, main), argv)
    assert all(fragment in message for fragment in fragments), message


def test_overrides_hydra_handles_are_left_to_hydra() -> None:
    argv = ["train.py", "--cfg", "job", "--info", "defaults", "+extra=1", "~seed",
            "hydra.run.dir=x", "hydra/job_logging=none", "trainer.max_steps=3", "experiment=smoke",
            "optim.lr_decay=0.1", "style=great_wave,udnie"]  # fmt: skip
    check_overrides("train", argv)  # no error
    assert {"optim", "data", "trainer"} <= root_keys("train")
    assert "style" in root_keys("stylize") and "loss" not in root_keys("stylize")


@pytest.mark.parametrize(
    ("main", "argv"),
    [("optimize_main", ["optimize.py", "content=PHOTO", "iterations=1"]),
     ("train_main", ["train.py", "data.root=FOLDER", "trainer.max_steps=1"])],
)  # fmt: skip
def test_a_per_style_run_refuses_the_adain_loss_in_one_line(
    files, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, main: str, argv: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    folder = str(files["photo"].parent)
    argv = [word.replace("PHOTO", str(files["photo"])).replace("FOLDER", folder) for word in argv]
    argv += ["loss=adain", f"style.image={files['painting']}", "vgg.weights=random",
             f"hydra.run.dir={tmp_path}"]  # fmt: skip
    message = main_exit(monkeypatch, getattr(commands, main), argv)
    assert "loss=adain trains arbitrary-style networks" in message
    assert "loss=gatys or loss=johnson" in message and "adain" in arbitrary_losses()
    assert "johnson" not in arbitrary_losses() and not (tmp_path / "losses.json").exists()


def test_the_solver_refuses_the_adain_loss_without_hydra(files, tmp_path: Path) -> None:
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("optimize", [f"content={files['photo']}", "loss=adain",
                                   f"paths.output_dir={tmp_path}"])  # fmt: skip
    with pytest.raises(FastNSTError, match="the loss AdaINLoss trains arbitrary-style"):
        run_optimize(cfg)


def test_compare_refuses_an_arbitrary_style_checkpoint(files, tmp_path: Path) -> None:
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("compare", [f"ckpt={files['adain']}", f"content_dir={tmp_path}",
                                  f"paths.output_dir={tmp_path}"])  # fmt: skip
    with pytest.raises(FastNSTError, match="arbitrary-style network .*compare_arbitrary.py"):
        run_compare(cfg)


@pytest.mark.parametrize(
    ("kind", "options", "fragment"),
    [
        ("adain", {"style": "great_wave", "style_image": "painting"},
         "style=great_wave picks a style of a multi-style network; this arbitrary-style"),
        ("single", {"style_image_weights": [0.5]}, "style_image_weights= weighs the paintings"),
        ("multi", {"style": "great_wave", "alpha": 0.5}, "need an arbitrary-style checkpoint"),
        ("single", {"style": "great_wave"}, "this network holds: stripes"),
        ("multi", {"style_image": "painting", "style": "great_wave"},
         "need an arbitrary-style checkpoint"),
    ],
)  # fmt: skip
def test_stylizer_options_of_other_networks_are_one_line(
    files, kind: str, options: dict, fragment: str
) -> None:
    if options.get("style_image") == "painting":
        options = {**options, "style_image": files["painting"]}
    with pytest.raises(FastNSTError, match=fragment):
        Stylizer.from_checkpoint(files[kind], device="cpu", backend="torch", **options)


def test_an_exported_multi_style_model_takes_a_style(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from fastnst.inference.export import export_model
    from fastnst.inference.runtime import OnnxModel

    path = export_model(multi_model(), tmp_path / "multi.onnx", "onnx", styles=NAMES)
    stylizer = Stylizer(OnnxModel(path), style="great_wave", styles=NAMES)
    assert stylizer.style_weights.tolist() == [0.0, 1.0, 0.0]  # not taken for a painting input


@pytest.mark.parametrize(
    ("kind", "options", "fragment"),
    [
        ("adain", {"strip": ["a", "b"], "style_image": "painting"},
         "strip= blends two styles of a multi-style network"),
        ("single", {"strip": ["a", "b"]}, "strip= needs a multi-style network"),
        ("multi", {"export": "onnx", "style": "great_wave", "input": "photo"},
         "export= writes the network alone; input=, style= apply when stylizing"),
    ],
)  # fmt: skip
def test_command_options_of_other_networks_are_one_line(
    files, tmp_path: Path, kind: str, options: dict, fragment: str
) -> None:
    named = ("painting", "photo")
    options = {key: str(files[v]) if v in named else v for key, v in options.items()}
    options.setdefault("input", str(files["photo"]))
    with pytest.raises(FastNSTError, match=fragment):
        run(ckpt=str(files[kind]), output=str(tmp_path / "o.png"), device="cpu", **options)
    assert not (tmp_path / "o.png").exists()


def test_the_demo_api_refuses_options_of_other_model_kinds(files, tmp_path: Path) -> None:
    pytest.importorskip("starlette")
    from test_demo_api import client_for

    folder = tmp_path / "models"
    folder.mkdir()
    for kind in ("single", "multi"):
        (folder / f"{kind}.ckpt").write_bytes(files[kind].read_bytes())
    client = client_for(folder)
    photo = {"content": files["photo"].read_bytes(), "headers": {"content-type": "image/png"}}
    cases = [
        ({"model": "single.ckpt", "style": "great_wave"}, "multi-style model; this one is single"),
        ({"model": "multi.ckpt", "painting": "0" * 16}, "this one is multi: pass style=NAME"),
    ]
    for params, fragment in cases:
        response = client.post("/api/stylize", params=params, **photo)
        assert response.status_code == 400 and fragment in response.json()["error"]
    ok = client.post("/api/stylize", params={"model": "multi.ckpt", "style": "great_wave"}, **photo)
    assert ok.status_code == 200 and ok.headers["content-type"] == "image/png"
