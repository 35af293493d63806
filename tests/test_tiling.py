"""Tiled stylization: tile layout, blending weights, shared instance-norm statistics."""

from __future__ import annotations

import torch
from numerics import assert_close_fp32

from fastnst import Stylizer
from fastnst.inference.tiling import (
    frozen_norm_stats,
    ramp,
    record_norm_stats,
    stylize_tiled,
    tile_starts,
)
from fastnst.models import TransformerNet

DEPTH = 10  # model_and_image's layers (3 down, 2 x 2 residual, 2 up, 1 out): fp32 tolerance


def model_and_image() -> tuple[TransformerNet, torch.Tensor]:
    torch.manual_seed(0)
    model = TransformerNet(width=8, num_residual_blocks=2, head="sigmoid").eval()
    low = torch.rand(1, 3, 6, 6)
    image = torch.nn.functional.interpolate(low, size=(96, 80), mode="bicubic").clamp(0, 1)
    return model, image


def test_tile_starts_cover_the_image_with_the_overlap() -> None:
    assert tile_starts(100, 48, 16) == [0, 32, 52]
    assert tile_starts(48, 48, 16) == [0]
    assert tile_starts(30, 48, 16) == [0]


def test_ramp_weights_by_hand() -> None:
    expected = torch.tensor([1 / 3, 2 / 3, 1, 1, 2 / 3, 1 / 3])
    assert torch.allclose(ramp(6, 2), expected)


def test_frozen_stats_of_the_same_image_reproduce_instance_norm_and_are_removed() -> None:
    model, image = model_and_image()
    keys = set(model.state_dict())
    with torch.no_grad():
        expected = model(image)
        stats = record_norm_stats(model, image)
        with frozen_norm_stats(model, stats):
            frozen = model(image)
        after = model(image)
    assert len(stats) == 3 + 2 + 2 * 2  # 3 conv + 2 upsample norms, 2 per residual block
    assert_close_fp32(frozen, expected, depth=DEPTH, scale=1.0, what="frozen statistics")
    assert set(model.state_dict()) == keys
    assert torch.equal(after, expected)


def test_tiled_matches_untiled_and_shared_stats_beat_per_tile_stats() -> None:
    model, image = model_and_image()
    with torch.no_grad():
        untiled = model(image)
        per_tile = torch.zeros_like(untiled)  # naive tiling: every tile normalizes itself
        for top in tile_starts(96, 64, 32):
            for left in tile_starts(80, 64, 32):
                per_tile[..., top : top + 64, left : left + 64] = model(
                    image[..., top : top + 64, left : left + 64]
                )
    tiled = stylize_tiled(model, image, tile=64, overlap=32)
    error = (tiled - untiled).abs()
    naive_error = (per_tile - untiled).abs().mean()
    # Stated tolerance: mean abs diff < 0.01 and max < 0.15 on [0, 1] pixels at 64 px tiles,
    # 32 px overlap (the random network's receptive field is far larger than the overlap).
    assert error.mean() < 0.01 and error.max() < 0.15
    assert naive_error > 3 * error.mean()


def test_stylizer_tiles_when_the_image_is_larger_than_the_tile() -> None:
    model, image = model_and_image()
    expected = stylize_tiled(model, image, tile=64, overlap=16).clamp(0, 1)
    out = Stylizer(model, tile=64, tile_overlap=16, channels_last=False, backend="torch")(image)
    assert_close_fp32(out, expected, depth=DEPTH, scale=1.0)  # the Stylizer's faster convs
    assert (
        Stylizer(model, tile=128, backend="torch")(image).shape == image.shape
    )  # fits: one untiled pass


def test_tiling_shares_the_statistics_of_conditional_norms_too() -> None:
    torch.manual_seed(0)
    model = TransformerNet(width=8, num_residual_blocks=2, head="sigmoid", num_styles=3).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith((".gamma", ".beta")):
                param.add_(torch.randn_like(param) * 0.3)  # styles that differ
    _, image = model_and_image()
    blend = torch.tensor([0.2, 0.0, 0.8])
    stats = record_norm_stats(model, image, blend)
    assert len(stats) == 3 + 2 + 2 * 2 + 1  # and the conditional norm of the output conv
    with torch.no_grad():
        untiled = model(image, blend)
        other = model(image, torch.tensor([1.0, 0.0, 0.0]))
        per_tile = torch.zeros_like(untiled)  # naive tiling: every tile normalizes itself
        for top in tile_starts(96, 64, 32):
            for left in tile_starts(80, 64, 32):
                crop = image[..., top : top + 64, left : left + 64]
                per_tile[..., top : top + 64, left : left + 64] = model(crop, blend)
    tiled = stylize_tiled(model, image, tile=64, overlap=32, style=blend)
    error = (tiled - untiled).abs()
    # Measured: mean 0.020, max 0.23, naive tiling 0.11. Looser than the single-style test:
    # the norm on the output conv gives the output unit variance before the sigmoid (full
    # contrast), so the same receptive-field seams cost more in pixels.
    assert error.mean() < 0.03 and error.max() < 0.3
    assert (per_tile - untiled).abs().mean() > 4 * error.mean()
    assert (other - untiled).abs().mean() > 3 * error.mean()  # the style was not ignored
    out = Stylizer(model, tile=64, tile_overlap=32, backend="torch", style={"0": 0.2, "2": 0.8})
    assert_close_fp32(out(image), tiled.clamp(0, 1), depth=DEPTH, scale=1.0)
