"""Many styles in one network: conditional instance norm (Dumoulin, Shlens & Kudlur 2017)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from numerics import assert_close_fp32
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

from fastnst.app.train import train
from fastnst.errors import FastNSTError
from fastnst.inference import Stylizer
from fastnst.inference.blend import parse_style_words
from fastnst.inference.command import run
from fastnst.inference.export import export_model
from fastnst.inference.runtime import OnnxModel
from fastnst.models import TransformerNet
from fastnst.models.checkpoint import CHECKPOINT_KEY, checkpoint_entry, load_style_checkpoint
from fastnst.models.extend import extend_styles, train_only_styles
from fastnst.models.layers import ConditionalInstanceNorm2d, style_weights

DEPTH = 8  # the test networks' layers (3 down, a residual block of 2, 2 up, 1 out): fp32 bound


def test_one_style_equals_instance_norm_with_the_same_affine() -> None:
    torch.manual_seed(0)
    cin, norm = ConditionalInstanceNorm2d(5, 1), nn.InstanceNorm2d(5, affine=True)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 2.0), norm.bias.normal_()
        cin.gamma.copy_(norm.weight[None]), cin.beta.copy_(norm.bias[None])
    x = torch.randn(3, 5, 7, 9) * 4 + 1
    assert_close_fp32(cin(x, torch.ones(3, 1)), norm(x), depth=1, what="one norm, two ways")


def test_a_blend_mixes_the_parameters() -> None:
    cin = ConditionalInstanceNorm2d(2, 3)
    with torch.no_grad():
        cin.gamma.copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
        cin.beta.copy_(torch.tensor([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]))
    x = torch.randn(2, 2, 4, 4)
    normalized = nn.functional.instance_norm(x)
    weights = torch.tensor([[0.7, 0.3, 0.0], [0.0, 0.5, 0.5]])
    # by hand: gamma = 0.7 [1, 2] + 0.3 [3, 4] = [1.6, 2.6]; 0.5 [3, 4] + 0.5 [5, 6] = [4, 5]
    gamma = torch.tensor([[1.6, 2.6], [4.0, 5.0]])
    beta = torch.tensor([[0.6, 1.6], [3.0, 4.0]])
    expected = normalized * gamma[:, :, None, None] + beta[:, :, None, None]
    torch.testing.assert_close(cin(x, weights), expected)


def test_style_argument_forms() -> None:
    one_hot = style_weights(torch.tensor([2, 0]), 3, 2)
    assert one_hot.tolist() == [[0, 0, 1], [1, 0, 0]]
    assert style_weights(torch.tensor([0.2, 0.8]), 2, 3).shape == (1, 2)  # broadcast
    assert style_weights(None, 1, 4) is None
    for bad in (None, torch.tensor([0, 1, 2]), torch.rand(4), torch.rand(2, 2)):
        with pytest.raises(FastNSTError, match="style"):
            style_weights(bad, 3, 2)


def test_network_has_3206_parameters_per_style_and_16_norms() -> None:
    single, four = TransformerNet(), TransformerNet(num_styles=4)
    rows = [p for n, p in four.named_parameters() if n.endswith((".gamma", ".beta"))]
    assert sum(p.numel() for p in rows) == 4 * 3206 and len(rows) == 2 * 16
    shared = sum(p.numel() for n, p in four.named_parameters() if p not in set(rows))
    affine = 2 * (32 + 64 + 128 + 10 * 128 + 64 + 32)  # the single network's IN affine
    assert shared == sum(p.numel() for p in single.parameters()) - affine
    assert "num_styles" not in single.config and four.config["num_styles"] == 4


def test_single_style_keys_are_unchanged() -> None:
    keys = set(TransformerNet(width=8, num_residual_blocks=1).state_dict())
    assert "net.0.2.weight" in keys and "net.3.block.1.2.bias" in keys and "net.6.1.bias" in keys
    assert not any("gamma" in key for key in keys)


def test_each_style_index_gives_its_own_output() -> None:
    torch.manual_seed(0)
    model = TransformerNet(width=4, num_residual_blocks=1, num_styles=3).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, ConditionalInstanceNorm2d):
                m.beta.normal_()
        x = torch.rand(2, 3, 16, 16)
        mixed = model(x, torch.tensor([0, 2]))
        alone = model(x[1:], torch.tensor([0.0, 0.0, 1.0]))  # another batch: other kernels
        assert_close_fp32(mixed[1:], alone, depth=DEPTH, what="index 2 against weights (0, 0, 1)")
        assert not torch.allclose(mixed[:1], model(x[:1], torch.tensor([2])))


def write_painting(path: Path, seed: int) -> Path:
    """A 48 px painting: stripes (seed 0) or a checkerboard in other colours (seed 1)."""
    i = torch.arange(48, dtype=torch.float32)
    if seed == 0:
        pattern = (torch.sin(i[None, :] * 0.8 + i[:, None] * 0.4) + 1) / 2
        rgb = torch.stack([pattern, 1 - pattern, pattern * 0.3])
    else:
        pattern = ((i[None, :] // 6 + i[:, None] // 6) % 2).float()
        rgb = torch.stack([pattern * 0.2, pattern * 0.6, 1 - pattern * 0.5])
    Image.fromarray((rgb.permute(1, 2, 0) * 255).round().byte().numpy()).save(path)
    return path


@pytest.fixture
def two_paintings(tmp_path: Path) -> list[str]:
    return [str(write_painting(tmp_path / name, k)) for k, name in enumerate(("a.png", "b.png"))]


def styles_override(paths: list[str]) -> str:
    return "styles=[" + ",".join(f"'{p}'" for p in paths) + "]"


def _scalars(run: Path, tag: str) -> list[float]:
    accumulator = EventAccumulator(str(run / "tensorboard")).Reload()
    return [event.value for event in accumulator.Scalars(tag)]


def test_two_style_training_lowers_every_styles_loss(
    make_cfg, two_paintings: list[str], tmp_path: Path
) -> None:
    cfg = make_cfg(
        "model=johnson_cin", "model.width=8", "model.num_residual_blocks=1",
        styles_override(two_paintings), "loss=johnson_scalefree", "trainer.max_steps=60",
        "trainer.val_check_interval=5", "optim.lr=3e-2", "trainer.limit_val_batches=1",
    )  # fmt: skip
    train(cfg)
    run = tmp_path / "run"
    for name in ("a", "b"):
        first, *_, last = _scalars(run, f"val/{name}/total")  # after steps 5 and 60
        assert last < 0.85 * first, name  # measured: 0.78 (a) and 0.70 (b)
        logged = _scalars(run, f"train/{name}/total")  # each style's own samples, every step
        assert len(logged) == 60 and sum(logged[-5:]) < sum(logged[:5]), name
    accumulator = EventAccumulator(str(run / "tensorboard")).Reload()
    grid = accumulator.Images("samples/content_stylized")[-1]
    assert grid.width > 2.5 * grid.height / 2  # 2 rows of 3 columns: content + 2 styles
    checkpoint = load_style_checkpoint(run / "checkpoints" / "last.ckpt")
    assert checkpoint.styles == ["a", "b"] and checkpoint.model.num_styles == 2
    assert checkpoint.model.config["num_styles"] == 2


def test_many_paintings_need_a_multi_style_model(make_cfg, two_paintings: list[str]) -> None:
    with pytest.raises(FastNSTError, match="model=johnson_cin"):
        train(make_cfg(styles_override(two_paintings)))


def test_unknown_painting_and_set_are_one_line_errors(make_cfg) -> None:
    with pytest.raises(FastNSTError, match="unknown painting 'nope'.*starry_night"):
        train(make_cfg("model=johnson_cin", "styles=[starry_night,nope]"))
    with pytest.raises(FastNSTError, match="unknown styles=nope.*four"):
        train(make_cfg("model=johnson_cin", "styles=nope"))


def test_adding_a_style_moves_only_the_new_rows(
    make_cfg, two_paintings: list[str], tmp_path: Path
) -> None:
    small = ["model=johnson_cin", "model.width=8", "model.num_residual_blocks=1"]
    train(make_cfg(*small, styles_override(two_paintings)))
    old = load_style_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")
    third = str(write_painting(tmp_path / "c.png", 0))
    more = styles_override([*two_paintings, third])
    saved = tmp_path / "old.ckpt"
    (tmp_path / "run" / "checkpoints" / "last.ckpt").rename(saved)
    train(make_cfg(*small, more, f"init_from={saved}", f"paths.output_dir={tmp_path / 'new'}"))
    new = load_style_checkpoint(tmp_path / "new" / "checkpoints" / "last.ckpt")
    assert new.styles == ["a", "b", "c"]
    before, after = old.model.state_dict(), new.model.state_dict()
    moved = 0
    for key, value in after.items():
        if key.endswith((".gamma", ".beta")):
            torch.testing.assert_close(value[:2], before[key], rtol=0, atol=0)
            moved += int(not torch.equal(value[2], torch.full_like(value[2], value[2, 0])))
        else:
            torch.testing.assert_close(value, before[key], rtol=0, atol=0)
    assert moved > 0  # the new rows left their initialisation (gamma 1, beta 0)


def test_grown_network_keeps_the_old_styles_outputs() -> None:
    torch.manual_seed(0)
    source = TransformerNet(width=4, num_residual_blocks=1, num_styles=2).eval()
    grown, new = extend_styles(source, ["a", "b"], ["a", "b", "c"])
    assert new == [2]
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(grown.eval()(x, torch.tensor([1])), source(x, torch.tensor([1])))
    train_only_styles(grown, new)
    blend = torch.tensor([0.5, 0.0, 0.5])  # gradients reach rows 0 and 2; only 2 may keep them
    (grown.train()(x, blend) * torch.rand(1, 3, 16, 16)).sum().backward()
    for name, param in grown.named_parameters():
        assert param.requires_grad == name.endswith((".gamma", ".beta")), name
    norms = [m for m in grown.modules() if isinstance(m, ConditionalInstanceNorm2d)]
    assert all(float(m.gamma.grad[:2].abs().sum()) == 0 for m in norms)
    assert sum(float(m.gamma.grad[2].abs().sum()) for m in norms) > 0
    with pytest.raises(FastNSTError, match="styles= must list"):
        extend_styles(source, ["a", "b"], ["b", "a", "c"])


def multi_model(seed: int = 0, styles: int = 3) -> TransformerNet:
    """A tiny 3-style network whose styles differ (random gamma, beta rows)."""
    torch.manual_seed(seed)
    model = TransformerNet(width=4, num_residual_blocks=1, head="sigmoid", num_styles=styles)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith((".gamma", ".beta")):
                param.add_(torch.randn_like(param) * 0.5)
    return model.eval()


NAMES = ["starry_night", "great_wave", "the_scream"]


@pytest.fixture
def multi_ckpt(tmp_path: Path) -> Path:
    model = multi_model()
    state = {f"transformer.{k}": v for k, v in model.state_dict().items()}
    entry = checkpoint_entry(model, NAMES, {"note": "test"})
    path = tmp_path / "multi.ckpt"
    torch.save({"state_dict": state, CHECKPOINT_KEY: entry, "global_step": 5}, path)
    return path


def test_checkpoint_round_trip_keeps_the_style_names(multi_ckpt: Path) -> None:
    loaded = load_style_checkpoint(multi_ckpt)
    assert loaded.styles == NAMES and loaded.model.num_styles == 3
    x = torch.rand(1, 3, 20, 20)
    with torch.no_grad():
        expected = multi_model()(x, torch.tensor([1]))
        torch.testing.assert_close(loaded.model(x, torch.tensor([1])), expected)


def test_stylizer_by_name_and_by_blend(multi_ckpt: Path) -> None:
    model, x = multi_model(), torch.rand(2, 3, 20, 24)
    stylizer = Stylizer.from_checkpoint(multi_ckpt, device="cpu", backend="torch")
    stylizer.style = "great_wave"
    with torch.no_grad():
        expected = model(x, torch.tensor([1, 1])).clamp(0, 1)
        assert_close_fp32(stylizer(x), expected, depth=DEPTH, scale=1.0)  # faster convs
        assert Stylizer(model, backend="torch", style=1).styles == ["0", "1", "2"]  # no names
        expected = model(x, torch.tensor([0.7, 0.0, 0.3])).clamp(0, 1)
        named = Stylizer(model, backend="torch", styles=NAMES, style={"starry_night": 7, "2": 3})
        # weights normalised; "2" is an index
        assert_close_fp32(named(x), expected, depth=DEPTH, scale=1.0)


def test_unknown_style_name_lists_the_networks_styles(multi_ckpt: Path) -> None:
    with pytest.raises(FastNSTError, match="unknown style 'mona_lisa'.*starry_night, great_wave"):
        Stylizer.from_checkpoint(multi_ckpt, backend="torch", style="mona_lisa")
    stylizer = Stylizer.from_checkpoint(multi_ckpt, backend="torch")  # no style chosen yet
    with pytest.raises(FastNSTError, match="holds 3 styles .*pass style=NAME"):
        stylizer(torch.rand(1, 3, 16, 16))
    with pytest.raises(FastNSTError, match="weights >= 0"):
        stylizer.style = {"starry_night": -1.0, "great_wave": 0.5}


def test_single_style_checkpoints_ignore_style_and_accept_their_name() -> None:
    torch.manual_seed(0)
    model = TransformerNet(width=4, num_residual_blocks=1).eval()
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        plain = Stylizer(model, backend="torch")(x)
        assert_close_fp32(plain, model(x).clamp(0, 1), depth=DEPTH, scale=1.0)
        model.style_names = ["stripes"]
        torch.testing.assert_close(Stylizer(model, backend="torch", style="stripes")(x), plain)


def test_style_words_of_the_command_line() -> None:
    assert parse_style_words(["great_wave"]) == "great_wave"
    blend = {"starry_night": 0.7, "great_wave": 0.3}
    assert parse_style_words(["starry_night=0.7,great_wave=0.3"]) == blend
    assert parse_style_words(["starry_night=0.7", "great_wave=0.3"]) == blend
    assert parse_style_words(None) is None
    with pytest.raises(FastNSTError, match="NAME=WEIGHT"):
        parse_style_words(["starry_night=0.7,great_wave"])


def test_torchscript_export_takes_the_style_weights(tmp_path: Path) -> None:
    model = multi_model()
    model.style_names = NAMES
    path = export_model(model, tmp_path / "multi.pt", "torchscript")
    extra = {"styles.json": ""}
    with pytest.warns(FutureWarning):  # torch.jit.load is deprecated upstream
        loaded = torch.jit.load(str(path), _extra_files=extra)
    assert json.loads(extra["styles.json"]) == NAMES
    for weights in (torch.tensor([0.0, 1.0, 0.0]), torch.tensor([0.5, 0.25, 0.25])):
        x = torch.rand(2, 3, 21, 30)
        with torch.no_grad():
            expected = model(x, weights).clamp(0, 1)
            assert_close_fp32(loaded(x, weights), expected, depth=DEPTH, scale=1.0)


@pytest.mark.slow
def test_onnx_export_and_runtime_take_the_style_weights(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    model = multi_model()
    model.style_names = NAMES
    onnx = OnnxModel(export_model(model, tmp_path / "multi.onnx", "onnx"))
    assert onnx.num_styles == 3 and onnx.styles == NAMES
    for weights in (torch.tensor([0.0, 0.0, 1.0]), torch.tensor([0.6, 0.4, 0.0])):
        for n, h, w in ((1, 33, 47), (3, 64, 64), (1, 5, 9)):
            x = torch.rand(n, 3, h, w)
            with torch.no_grad():
                expected = model(x, weights).clamp(0, 1)
            assert_close_fp32(onnx(x, weights), expected, depth=DEPTH, scale=1.0, what=f"{h}x{w}")
    by_name = Stylizer(onnx, style="the_scream")  # names from the ONNX metadata
    x = torch.rand(1, 3, 24, 24)
    with torch.no_grad():
        expected = model(x, torch.tensor([2])).clamp(0, 1)
        assert_close_fp32(by_name(x), expected, depth=DEPTH, scale=1.0)
        torch_backend = Stylizer(model, backend="onnxruntime", style="great_wave")(x)
        expected = model(x, torch.tensor([1])).clamp(0, 1)
        assert_close_fp32(torch_backend, expected, depth=DEPTH, scale=1.0)


def test_sheet_and_strip_files(multi_ckpt: Path, tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    Image.fromarray((torch.rand(24, 32, 3) * 255).byte().numpy()).save(photo)
    run(ckpt=str(multi_ckpt), input=str(photo), output=str(tmp_path / "s.png"), sheet=True,
        backend="torch")  # fmt: skip
    sheet = Image.open(tmp_path / "s.png")
    # photo + 3 styles in one row, cells scaled to 128 px high (32 x 24 -> 171 x 128)
    assert sheet.width > 4 * 171 and sheet.height < 128 + 40
    run(ckpt=str(multi_ckpt), input=str(photo), output=str(tmp_path / "t.png"),
        strip=["starry_night", "the_scream"], strip_steps=4, backend="torch")  # fmt: skip
    strip = Image.open(tmp_path / "t.png")
    assert strip.width > 5 * 171 and strip.size[1] == sheet.size[1]  # photo + 4 steps
    with pytest.raises(FastNSTError, match="unknown style 'nope'"):
        run(ckpt=str(multi_ckpt), input=str(photo), output=str(tmp_path / "u.png"),
            strip=["starry_night", "nope"], backend="torch")  # fmt: skip
    run(ckpt=str(multi_ckpt), input=str(photo), output=str(tmp_path / "one.png"),
        style="the_scream", backend="torch")  # fmt: skip
    one = torch.from_numpy(np.asarray(Image.open(tmp_path / "one.png"))).float()
    model, content = multi_model(), torch.from_numpy(np.asarray(Image.open(photo))).float()
    with torch.no_grad():
        expected = model(content.permute(2, 0, 1)[None] / 255, torch.tensor([2])).clamp(0, 1)
    assert (one.permute(2, 0, 1)[None] / 255 - expected).abs().max() < 1.5 / 255
