"""Loss variants: each statistic vs a naive reference, normalizations, log balance, configs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import CONFIGS
from hydra import compose, initialize_config_dir
from test_losses import TinyEncoder, smooth_images, tiny_loss

from fastnst.app.train import build_loss, train
from fastnst.color import match_luminance, rgb_to_yiq, yiq_to_rgb
from fastnst.io.image import load_image
from fastnst.losses import (
    combine_layers,
    cross_gram,
    feature_gradient_gram,
    gram_matrix,
    mean_std,
    style_distance,
)
from fastnst.solver import SolverConfig, optimize

GEN = torch.Generator().manual_seed(0)


def test_activation_shift_zero_is_plain_gram_and_shift_is_added() -> None:
    features = torch.rand(2, 3, 4, 5, generator=GEN)
    torch.testing.assert_close(gram_matrix(features, shift=0.0), gram_matrix(features))
    torch.testing.assert_close(gram_matrix(features, shift=-1.0), gram_matrix(features - 1))
    assert not torch.allclose(gram_matrix(features, shift=-1.0), gram_matrix(features))


def test_feature_gradient_gram_has_3c_channels_and_matches_formula() -> None:
    a = torch.randn(2, 3, 4, 5, generator=GEN)
    gram = feature_gradient_gram(a)
    assert gram.shape == (2, 9, 9)
    stacked = torch.zeros(2, 9, 3, 4)  # [A[1:,1:], A[1:,1:] - A[:-1,1:], A[1:,1:] - A[1:,:-1]]
    for y in range(1, 4):
        for x in range(1, 5):
            stacked[:, 0:3, y - 1, x - 1] = a[:, :, y, x]
            stacked[:, 3:6, y - 1, x - 1] = a[:, :, y, x] - a[:, :, y - 1, x]
            stacked[:, 6:9, y - 1, x - 1] = a[:, :, y, x] - a[:, :, y, x - 1]
    flat = stacked.flatten(2)
    torch.testing.assert_close(gram, flat @ flat.transpose(1, 2) / (9 * 3 * 4))


def test_cross_gram_matches_naive_sum_and_reduces_to_gram() -> None:
    shallow, deep = torch.randn(1, 2, 4, 4, generator=GEN), torch.randn(1, 3, 2, 2, generator=GEN)
    up = F.interpolate(deep, size=(4, 4), mode="bilinear", align_corners=False)
    naive = torch.zeros(1, 2, 3)
    for i in range(2):
        for j in range(3):
            naive[0, i, j] = ((shallow[0, i] - 1) * (up[0, j] - 1)).sum() / (6**0.5 * 16)
    torch.testing.assert_close(cross_gram(shallow, deep, shift=-1.0), naive)
    torch.testing.assert_close(cross_gram(shallow, shallow), gram_matrix(shallow))


def test_mean_std_matches_naive() -> None:
    features = torch.randn(2, 3, 4, 4, generator=GEN)
    stats = mean_std(features, eps=0.0)
    assert stats.shape == (2, 2, 3)
    for n in range(2):
        for c in range(3):
            values = features[n, c].flatten().tolist()
            mu = sum(values) / len(values)
            sigma = (sum((v - mu) ** 2 for v in values) / len(values)) ** 0.5
            assert stats[n, 0, c].item() == pytest.approx(mu, abs=1e-5)
            assert stats[n, 1, c].item() == pytest.approx(sigma, abs=1e-5)


def test_gatys_normalization_is_their_sum_form() -> None:
    f, f_s = torch.rand(1, 3, 4, 5, generator=GEN), torch.rand(1, 3, 4, 5, generator=GEN)
    n, m = 3, 20
    raw, raw_s = f.flatten(2) @ f.flatten(2).mT, f_s.flatten(2) @ f_s.flatten(2).mT
    expected = ((raw - raw_s) ** 2).sum() / (4 * n**2 * m**2)
    got = style_distance(gram_matrix(f), gram_matrix(f_s), "gatys")
    torch.testing.assert_close(got, expected)


def test_frobenius_normalization_matches_formula_and_ignores_scale() -> None:
    g, a = torch.rand(1, 4, 4, generator=GEN), torch.rand(1, 4, 4, generator=GEN)
    expected = ((g / g.norm() - a / a.norm()) ** 2).sum()
    torch.testing.assert_close(style_distance(g, a, "frobenius"), expected)
    torch.testing.assert_close(style_distance(7.0 * g, a, "frobenius"), expected)


def periodic_texture(size: int, seed: int) -> torch.Tensor:
    """Random sinusoids with periods dividing ``size``: its 2x2 tiling has no seams."""
    g = torch.Generator().manual_seed(seed)
    grid = torch.arange(size) * 2 * torch.pi / size
    y, x = torch.meshgrid(grid, grid, indexing="ij")
    freq, phase = torch.randint(1, 4, (3, 2, 2), generator=g), torch.rand(3, 2, generator=g) * 6
    channels = [
        torch.sin(freq[c, 0, 0] * x + freq[c, 0, 1] * y + phase[c, 0])
        * torch.cos(freq[c, 1, 0] * x - freq[c, 1, 1] * y + phase[c, 1])
        for c in range(3)
    ]
    return (torch.stack(channels)[None] + 1) / 2


def test_frobenius_invariant_to_tiling_the_style() -> None:
    """The same style at 2x resolution (2x2 tiles) gives ~0, up to boundary effects.

    Exactly 0 on a feature map; through an encoder, zero padding makes the smaller image's
    activations weaker, which the mean ("elements") sees and Frobenius normalization removes.
    """
    features = torch.rand(1, 4, 8, 8, generator=GEN)
    tiled_gram = gram_matrix(features.repeat(1, 1, 2, 2))
    assert style_distance(tiled_gram, gram_matrix(features), "frobenius") < 1e-10
    style, other = periodic_texture(64, seed=1), smooth_images(1, size=64, seed=2)
    ratios = {}
    for normalization in ("frobenius", "elements"):
        loss = tiny_loss(style_normalization=normalization, content_weight=0.0, tv_weight=0.0)
        loss.set_style(style)
        tiled = loss(style.repeat(1, 1, 2, 2), style.repeat(1, 1, 2, 2))["style"]
        ratios[normalization] = tiled / loss(other, other)["style"]
    assert ratios["frobenius"] < 0.05  # measured 0.019
    assert ratios["frobenius"] < 0.5 * ratios["elements"]  # measured 0.092


def test_log_balance_gives_the_stated_gradient_ratio() -> None:
    e1, e2 = torch.tensor(3.0, requires_grad=True), torch.tensor(0.5, requires_grad=True)
    loss = combine_layers({"a": e1, "b": e2}, {"a": 1.0, "b": 2.0}, log_alpha=2.0)
    loss.backward()
    # dL/dE_l = w_l / (alpha + E_l): 1/5 and 2/2.5
    assert e1.grad.item() == pytest.approx(0.2)
    assert e2.grad.item() == pytest.approx(0.8)
    assert loss.item() == pytest.approx(
        torch.log(torch.tensor(5.0)).item() + 2 * torch.log(torch.tensor(2.5)).item()
    )


def test_log_balanced_perceptual_loss_puts_the_style_weight_inside() -> None:
    output, style = smooth_images(1, seed=3), smooth_images(1, seed=4)
    plain, balanced = tiny_loss(), tiny_loss(log_alpha=1.5)
    plain.set_style(style)
    balanced.set_style(style)
    p, b = plain(output, output), balanced(output, output)
    expected = torch.log(1.5 + 10 * p["style_r1"]) + 3 * torch.log(1.5 + 10 * p["style_r2"])
    torch.testing.assert_close(b["style"], expected)
    torch.testing.assert_close(b["total"], 2 * p["content"] + expected + 0.5 * p["tv"])


def test_correlation_chain_links_neighbouring_layers() -> None:
    style, output = smooth_images(1, seed=5), smooth_images(1, seed=6)
    loss = tiny_loss(correlation_chain=True, activation_shift=-1.0)
    loss.set_style(style)
    terms = loss(output, output)
    assert [key for key in terms if key.startswith("style_")] == ["style_r1-r2"]
    enc = TinyEncoder()
    out, sty = enc(output, ["r1", "r2"]), enc(style, ["r1", "r2"])
    expected = torch.mean(
        (cross_gram(out["r1"], out["r2"], -1.0) - cross_gram(sty["r1"], sty["r2"], -1.0)) ** 2
    )
    torch.testing.assert_close(terms["style_r1-r2"], expected)
    torch.testing.assert_close(terms["style"], expected)  # weight of r1 is 1


def test_pre_relu_style_layers_use_the_conv_outputs() -> None:
    style = smooth_images(1, seed=7)
    loss = tiny_loss(style_layers={"c1": 1.0})
    loss.set_style(style)
    conv = TinyEncoder()(style, ["c1"])["c1"]
    assert (conv < 0).any()
    torch.testing.assert_close(loss.style_losses["c1"].target, gram_matrix(conv))


def test_mean_std_statistic_in_the_perceptual_loss() -> None:
    style, output = smooth_images(1, seed=8), smooth_images(1, seed=9)
    loss = tiny_loss(style_statistic="mean_std")
    loss.set_style(style)
    enc = TinyEncoder()
    expected = torch.mean(
        (mean_std(enc(output, ["r2"])["r2"]) - mean_std(enc(style, ["r2"])["r2"])) ** 2
    )
    torch.testing.assert_close(loss(output, output)["style_r2"], expected)


def test_luminance_only_ignores_chroma_and_matches_the_style_luminance() -> None:
    style, content, output = (smooth_images(1, seed=s) for s in (10, 11, 12))
    loss = tiny_loss(luminance_only=True)
    loss.set_style(style, content=content)
    grey_style = match_luminance(style, content)
    enc = TinyEncoder()
    torch.testing.assert_close(
        loss.style_losses["r1"].target, gram_matrix(enc(grey_style, ["r1"])["r1"])
    )
    yiq = rgb_to_yiq(output)
    recoloured = yiq_to_rgb(torch.cat([yiq[:, :1], yiq[:, 1:] * 0.3 + 0.05], dim=1))
    a, b = loss(output, content), loss(recoloured, content)
    for name in ("content", "style"):
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-7)
    colour = tiny_loss()
    colour.set_style(style)
    assert not torch.allclose(
        colour(output, content)["style"], colour(recoloured, content)["style"]
    )


ARBITRARY_LOSSES = {"adain", "adain_paper"}  # take a painting per sample: test_adain.py
LOSS_CONFIGS = sorted(
    path.stem for path in (CONFIGS / "loss").glob("*.yaml") if path.stem not in ARBITRARY_LOSSES
)


def test_every_documented_variant_has_a_config() -> None:
    documented = {"johnson", "gatys", "gatys_sum", "gatys_frobenius", "gatys_prerelu"}
    documented |= {"gatys_gradient", "gatys_log", "gatys_meanstd", "gatys_avgpool", "novak"}
    documented |= {"johnson_scalefree"}
    assert documented <= set(LOSS_CONFIGS)


def test_smoke_experiment_uses_the_scalefree_loss() -> None:
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["experiment=smoke"])
        chosen = compose(config_name="train", overrides=["experiment=smoke", "loss=gatys"])
    assert cfg.vgg.weights == "random"
    assert cfg.loss.style_normalization == "target" and cfg.loss.tv_normalization == "content"
    assert 0.1 <= cfg.loss.style_weight <= 100  # order 1, not the 1e5 of style.weight
    assert chosen.loss.style_normalization == "elements"  # the command line still wins


@pytest.mark.parametrize("size", [32, 64])
def test_scalefree_style_term_matters_with_a_random_vgg(make_cfg, size: int) -> None:
    """At y = x the content term is 0; the style term is of order 1, not ~1e-8 of the total."""
    content = smooth_images(1, size=size, seed=11)
    scalefree = build_loss(make_cfg("loss=johnson_scalefree"))
    terms = scalefree(content, content)
    assert terms["content"].item() == 0.0
    assert terms["tv"].item() == pytest.approx(1.0)  # TV(x) / TV(x)
    assert 0.05 < terms["style"].item() < 20
    plain = build_loss(make_cfg("loss=johnson"))(content, content)  # the paper's mean
    assert plain["style"].item() < 1e-3 * terms["style"].item()


def solver_step_is_finite_and_moves(loss, folder: Path) -> None:
    """One Adam step of the solver: finite terms before and after, and the image moved."""
    content = load_image(next(folder.glob("*.png")), long_side=48)  # 48x40: deep maps >= 2x2
    result = optimize(loss, content, SolverConfig(optimizer="adam", iterations=1, lr=0.05))
    assert len(result.history) == 2
    assert all(torch.isfinite(torch.tensor(list(h.values()))).all() for h in result.history)
    assert not torch.equal(result.image, content)  # the step moved the image: there was a gradient


@pytest.mark.parametrize("variant", LOSS_CONFIGS)
def test_loss_config_solves_one_step(make_cfg, variant: str) -> None:
    cfg = make_cfg(f"loss={variant}")
    solver_step_is_finite_and_moves(build_loss(cfg), Path(cfg.data.root))


SLOW_UNLESS_DEFAULT = [
    pytest.param(v, marks=() if v in ("johnson", "gatys") else pytest.mark.slow)
    for v in LOSS_CONFIGS
]


@pytest.mark.parametrize("variant", SLOW_UNLESS_DEFAULT)
def test_loss_config_trains_one_step(make_cfg, variant: str) -> None:
    """``python train.py loss=<variant>`` runs a step (VGG19 variants are slow: marked so)."""
    metrics = train(
        make_cfg(f"loss={variant}", "trainer.max_steps=1", "trainer.val_check_interval=1")
    )
    assert torch.isfinite(torch.tensor(metrics["train/total"]))
    assert metrics["train/total"] > 0
