"""The Gatys solver: lowers the trainer's loss, starts from exactly that loss; every option runs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from fastnst.app.train import build_loss, build_module
from fastnst.color import rgb_to_yiq
from fastnst.errors import FastNSTError
from fastnst.losses import PerceptualLoss, vgg_perceptual_loss
from fastnst.solver.callbacks import ProgressBar, SnapshotWriter, TensorBoardLogger
from fastnst.solver.optimize import Progress, SolverConfig, initial_image, optimize, pyramid_sizes


def make_tiny_loss(seed: int = 0) -> PerceptualLoss:
    """VGG16 cut after relu2_2, random weights, style weight large enough to matter."""
    style_layers = {"relu1_2": 1.0, "relu2_2": 1.0}
    loss = vgg_perceptual_loss(
        arch="vgg16", content_layers={"relu2_2": 1.0}, style_layers=style_layers,
        weights="random", style_weight=1e8, tv_weight=1.0,
    )  # fmt: skip
    generator = torch.Generator().manual_seed(seed)
    x = torch.linspace(0, 10, 40)
    stripes = ((torch.sin(x[None, :] * 2 + x[:, None]) + 1) / 2).expand(1, 3, 40, 40)
    loss.set_style(stripes * torch.rand(1, 3, 1, 1, generator=generator))
    return loss


def smooth_image(height: int, width: int, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    low = torch.rand(1, 3, 3, 3, generator=generator) * 0.4 + 0.3  # values in [0.3, 0.7]
    return torch.nn.functional.interpolate(low, size=(height, width), mode="bilinear")


@pytest.mark.parametrize(
    ("optimizer", "iterations", "ratio"), [("lbfgs", 10, 0.2), ("adam", 10, 0.7)]
)
def test_optimizers_lower_the_loss(optimizer: str, iterations: int, ratio: float) -> None:
    content = smooth_image(29, 37)  # odd sizes: the output must keep them
    config = SolverConfig(optimizer=optimizer, iterations=iterations, init="mix")
    result = optimize(make_tiny_loss(), content, config)
    assert result.image.shape == content.shape
    assert result.image.min() >= 0.0 and result.image.max() <= 1.0
    assert len(result.history) == iterations + 1
    assert result.terms == result.history[-1]
    assert result.terms["total"] < ratio * result.history[0]["total"]


def test_step_zero_is_the_trainers_loss(make_cfg) -> None:
    cfg = make_cfg("model.head=sigmoid")  # outputs in (0, 1): the solver's clamp is a no-op
    module = build_module(cfg)
    content = smooth_image(32, 32)
    with torch.no_grad(), pytest.warns(UserWarning, match="self.log"):
        trainer_total = module.training_step(content, 0)  # total of loss(transformer(x), x)
        stylized = module(content)
    assert stylized.min() > 0.0 and stylized.max() < 1.0
    result = optimize(build_loss(cfg), content, SolverConfig(iterations=0), init=stylized)
    assert result.history[0]["total"] == pytest.approx(float(trainer_total), rel=1e-5)


def test_inits() -> None:
    content = smooth_image(16, 20)
    noise = initial_image(content, "noise", seed=3)
    assert torch.equal(initial_image(content, "content"), content)
    assert noise.min() >= 0.0 and noise.max() <= 1.0 and abs(noise.mean() - 0.5) < 0.1
    mix = initial_image(content, "mix", noise_ratio=0.25, seed=3)
    torch.testing.assert_close(mix, 0.75 * content + 0.25 * noise)
    loss = make_tiny_loss()
    starts = {
        init: optimize(loss, content, SolverConfig(iterations=2, init=init, seed=3)).history[0]
        for init in ("content", "noise", "mix")
    }
    assert starts["content"]["content"] == 0.0  # the content itself has no content loss
    assert starts["noise"]["content"] > starts["mix"]["content"] > 0.0


def test_pyramid_runs_coarse_to_fine() -> None:
    assert pyramid_sizes((40, 30), 3, 0.5) == [(10, 8), (20, 15), (40, 30)]
    content = smooth_image(40, 30)
    sizes: list[tuple[int, ...]] = []
    config = SolverConfig(iterations=4, pyramid_levels=3, init="noise")
    result = optimize(
        make_tiny_loss(), content, config, callbacks=[lambda p: sizes.append(p.image.shape[-2:])]
    )
    assert [tuple(s) for s in sizes] == [(10, 8)] * 4 + [(20, 15)] * 4 + [(40, 30)] * 5
    assert result.image.shape == content.shape
    assert result.terms["total"] < result.history[0]["total"]


def test_preserve_color_keeps_the_content_chroma() -> None:
    content = smooth_image(24, 24)
    config = SolverConfig(iterations=3, preserve_color="luminance")
    result = optimize(make_tiny_loss(), content, config)
    inside = ((result.image > 0.01) & (result.image < 0.99)).all(dim=1)  # not clamped
    assert inside.float().mean() > 0.5
    chroma = rgb_to_yiq(result.image)[:, 1:].permute(0, 2, 3, 1)[inside]
    expected = rgb_to_yiq(content)[:, 1:].permute(0, 2, 3, 1)[inside]
    torch.testing.assert_close(chroma, expected, atol=3e-3, rtol=0)  # 8-bit rounding aside


def test_fixed_step_lbfgs_and_solver_time() -> None:
    seconds: list[float] = []
    config = SolverConfig(iterations=3, line_search=None)
    result = optimize(
        make_tiny_loss(),
        smooth_image(16, 16),
        config,
        callbacks=[lambda p: seconds.append(p.seconds)],
    )
    assert len(seconds) == 4 and seconds == sorted(seconds) and seconds[-1] == result.seconds
    assert result.terms["total"] < result.history[0]["total"]


@pytest.mark.parametrize("field", ["optimizer", "init", "preserve_color", "line_search"])
def test_bad_config_is_a_one_line_error(field: str) -> None:
    with pytest.raises(FastNSTError, match=f"solver.{field}"):
        SolverConfig(**{field: "bogus"})


def test_callbacks_write_snapshots_gif_and_tensorboard(tmp_path: Path) -> None:
    snapshots = SnapshotWriter(tmp_path / "steps", 2, gif=tmp_path / "progress.gif")
    board = TensorBoardLogger(tmp_path / "tb")
    bar = ProgressBar(5, disable=True)
    result = optimize(
        make_tiny_loss(),
        smooth_image(16, 16),
        SolverConfig(iterations=5),
        callbacks=[snapshots, board, bar],
    )
    for callback in (snapshots, board, bar):
        callback.close()
    assert sorted(p.name for p in (tmp_path / "steps").iterdir()) == [
        "iter_00000.png", "iter_00002.png", "iter_00004.png", "iter_00005.png"
    ]  # fmt: skip
    with Image.open(tmp_path / "progress.gif") as gif:
        assert gif.n_frames == 4
    assert bar.bar.n == 5
    events = EventAccumulator(str(tmp_path / "tb")).Reload()
    totals = [event.value for event in events.Scalars("solver/total")]
    assert totals == pytest.approx([h["total"] for h in result.history], rel=1e-6)


def test_progress_is_a_snapshot_of_each_iteration() -> None:
    seen: list[Progress] = []
    optimize(
        make_tiny_loss(), smooth_image(16, 16), SolverConfig(iterations=3), callbacks=[seen.append]
    )
    assert [p.iteration for p in seen] == [0, 1, 2, 3]
    assert all(p.level == 0 for p in seen)
