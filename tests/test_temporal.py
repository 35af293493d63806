"""Temporal stability losses: their values on networks with known behaviour, the config group,
and a tiny training run whose network flickers less on a synthetic clip."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import CONFIGS
from hydra import compose, initialize_config_dir
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from test_flow import texture
from torch import Tensor, nn

from fastnst.app.builders import build_temporal
from fastnst.app.schemas import check_config
from fastnst.app.train import train
from fastnst.errors import FastNSTError
from fastnst.flow import warp
from fastnst.flow.synthetic import camera_clip
from fastnst.losses.temporal import NoiseStabilityLoss, WarpStabilityLoss, masked_mse
from fastnst.models import TransformerNet
from fastnst.models.checkpoint import load_style_checkpoint
from fastnst.training.module import StyleTransferModule
from fastnst.video_metrics import known_pairs, warping_error


class Net(nn.Module):
    """``forward(x, style)`` as a transform network has, around any module."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: Tensor, style: Tensor | None = None) -> Tensor:
        return self.body(x)


def batch(seed: int = 0) -> Tensor:
    """(2, 3, 40, 40) smooth images in [0.2, 0.8], so noise and warps are never clamped."""
    return torch.cat([texture(40, 40, seed=seed + k) * 0.6 + 0.2 for k in range(2)])


def test_noise_loss_is_the_noise_variance_for_the_identity_and_zero_for_a_constant() -> None:
    torch.manual_seed(0)
    x, loss = batch(), NoiseStabilityLoss(noise_std=0.02)
    assert float(loss(Net(nn.Identity()), x, x)) == pytest.approx(0.02**2, rel=0.05)
    constant = Net(nn.Conv2d(3, 3, 1).requires_grad_(False))
    nn.init.zeros_(constant.body.weight)
    assert float(loss(constant, x, constant(x))) == 0.0


def test_warp_loss_is_zero_for_networks_that_commute_with_warping() -> None:
    torch.manual_seed(1)
    x = batch()
    loss = WarpStabilityLoss(sigma=3.0, max_shift=4.0, noise_std=0.0)
    pointwise = Net(nn.Conv2d(3, 3, 1))  # per pixel, affine: commutes with bilinear warps
    assert float(loss(pointwise, x, pointwise(x))) < 1e-10
    blur = Net(nn.Conv2d(3, 3, 5, padding=2, padding_mode="replicate"))
    assert float(loss(blur, x, blur(x))) > 1e-6  # a spatial filter does not, quite
    pattern = torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(2))
    glued = Net(_Add(pattern))  # a texture glued to the screen: it does not move with x
    assert float(loss(glued, x, glued(x))) > 0.05  # about 2 var(pattern), less the blur


class _Add(nn.Module):
    def __init__(self, pattern: Tensor) -> None:
        super().__init__()
        self.pattern = pattern

    def forward(self, x: Tensor) -> Tensor:
        return x + self.pattern


def test_warp_loss_second_frame_is_the_warped_photo_plus_small_noise() -> None:
    torch.manual_seed(3)
    x = batch()
    flow, second = WarpStabilityLoss(noise_std=0.01).second_frame(x)
    assert flow.shape == (2, 2, 40, 40) and second.shape == x.shape
    residual = second - warp(x, flow)
    assert residual.std() == pytest.approx(0.01, rel=0.1)


def test_masked_mse_counts_only_the_masked_pixels() -> None:
    a, b = torch.zeros(1, 3, 2, 2), torch.ones(1, 3, 2, 2)
    b[..., 1, :] = 3.0
    mask = torch.tensor([[[[True, True], [False, False]]]])
    assert float(masked_mse(a, b, mask)) == 1.0
    assert float(masked_mse(a, b, torch.ones_like(mask))) == 5.0


def compose_train(*overrides: str):
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return compose(
            config_name="train", overrides=["style.image=p.jpg", "paths.output_dir=out", *overrides]
        )


@pytest.mark.parametrize("option", ["none", "noise", "warp"])
def test_temporal_options_build(option: str) -> None:
    cfg = compose_train(f"temporal={option}")
    check_config(cfg, "train")
    built = build_temporal(cfg)
    kinds = {"none": type(None), "noise": NoiseStabilityLoss, "warp": WarpStabilityLoss}
    assert isinstance(built, kinds[option])
    assert compose_train().temporal == compose_train("temporal=none").temporal  # the default


def test_bad_temporal_settings_are_one_line_errors() -> None:
    with pytest.raises(FastNSTError, match=r"temporal.weight='x' is not a valid float"):
        check_config(compose_train("temporal=warp", "temporal.weight=x"), "train")
    with pytest.raises(FastNSTError, match="temporal.weight=-1.0 is negative"):
        build_temporal(compose_train("temporal=noise", "temporal.weight=-1.0"))
    with pytest.raises(FastNSTError, match=r"could not convert.*'wide'.*fix temporal\.\*"):
        build_temporal(compose_train("temporal=warp", "temporal.sigma=wide"))


def test_training_logs_the_temporal_term(make_cfg, tmp_path: Path) -> None:
    train(make_cfg("temporal=warp", "temporal.sigma=2", "temporal.max_shift=3"))
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard")).Reload()
    temporal = [e.value for e in events.Scalars("train/temporal")]
    totals = [e.value for e in events.Scalars("train/total")]
    assert len(temporal) == 4 and all(value > 0 for value in temporal)
    assert "val/temporal" not in events.Tags()["scalars"]  # validation stays comparable
    assert all(total > 30.0 * value for total, value in zip(totals, temporal, strict=True))


class FixedTemporal(nn.Module):
    """A temporal loss of known value that records what the module hands it."""

    weight = 2.0

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[Tensor, Tensor, Tensor]] = []

    def forward(self, transformer, content, output, style=None) -> Tensor:
        self.seen.append((transformer(content, style), content, output))
        return torch.tensor(0.25)


class UnitLoss(nn.Module):
    """A perceptual loss of one style whose total is always 1."""

    num_styles = 1

    def forward(self, output: Tensor, content: Tensor, style=None) -> dict[str, Tensor]:
        return {"total": torch.tensor(1.0)}


def test_module_adds_the_weighted_temporal_term_to_the_training_total_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    temporal = FixedTemporal()
    net = TransformerNet(width=4, num_residual_blocks=1)
    module = StyleTransferModule(net, UnitLoss(), temporal=temporal)
    logged: dict[str, float] = {}
    monkeypatch.setattr(module, "log", lambda name, value, **_: logged.__setitem__(name, value))
    x = batch()
    assert float(module._step(x, "train")) == pytest.approx(1.0 + 2.0 * 0.25)
    assert logged["train/temporal"] == pytest.approx(0.25)
    restyled, content, output = temporal.seen[0]
    assert torch.equal(content, x) and torch.allclose(restyled, output)  # the batch's own output
    assert float(module._step(x, "val")) == 1.0 and "val/temporal" not in logged
    assert "temporal" not in module.hparams


def network_warping_error(checkpoint: Path) -> tuple[float, float]:
    """Warping error of a trained network on a panning, zooming synthetic clip (known flow),
    and the spatial std of its output (a flat output would not flicker either)."""
    model = load_style_checkpoint(checkpoint).model.eval()
    frames, flows = camera_clip(texture(97, 97, seed=7, cells=12), 6, (48, 48),
                                shift=(1.5, 0.7), zoom=0.98)  # fmt: skip
    with torch.no_grad():
        styled = model(frames).clamp(0, 1)
    return warping_error(styled, known_pairs(flows)), float(styled.std(dim=(2, 3)).mean())


def test_temporal_training_lowers_the_warping_error(make_cfg, tmp_path: Path) -> None:
    errors = {}
    steps = ["trainer.max_steps=30", "trainer.val_check_interval=30", "samples.every_n_steps=30"]
    variants = {"none": [], "warp": ["temporal.weight=30", "temporal.sigma=2",
                                     "temporal.max_shift=3"]}  # fmt: skip
    for option, settings in variants.items():
        run = tmp_path / option
        # the loss and network the bounds were measured with (not loss=examples' 0-255 one)
        pinned = ["loss=johnson", "model.pixel_range=1"]
        train(make_cfg(f"paths.output_dir={run}", f"temporal={option}", *pinned, *settings, *steps))
        errors[option] = network_warping_error(run / "checkpoints" / "last.ckpt")
    (none, none_std), (warp, warp_std) = errors["none"], errors["warp"]
    assert warp < 0.5 * none, errors  # measured 0.0025 vs 0.0122
    assert warp_std > 0.6 * none_std, errors  # not by painting the frames flat (0.17 vs 0.23)
