"""Quality measures: hand-computed values, naive references and known invariances."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from fastnst.quality import (
    COLOR_PROJECTIONS,
    color_swd,
    edge_ssim,
    quality_measures,
    random_directions,
    sliced_wasserstein,
    sobel_magnitude,
    ssim,
    structure_ssim,
    texture_swd,
)


def rand(*shape: int, seed: int = 0, low: float = 0.0, high: float = 1.0) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return low + (high - low) * torch.rand(*shape, generator=generator)


def stripes(height: int = 48, width: int = 48) -> Tensor:
    """Vertical stripes 3 px wide, two colours: a texture with a clear spatial structure."""
    on = (torch.arange(width) // 3 % 2).float().expand(height, width)
    return torch.stack([on, 0.5 * on, 1 - on])[None]  # (1, 3, H, W)


def test_directions_are_unit_vectors_and_seeded() -> None:
    directions = random_directions(5, 10, seed=3)
    assert directions.shape == (10, 5)
    assert torch.allclose(directions.norm(dim=1), torch.ones(10))
    assert torch.equal(directions, random_directions(5, 10, seed=3))
    assert not torch.equal(directions, random_directions(5, 10, seed=4))


def test_swd_in_one_dimension_is_the_wasserstein_distance() -> None:
    x = torch.tensor([[3.0], [0.0], [2.0], [1.0]])
    assert float(sliced_wasserstein(x, torch.zeros(4, 1))) == pytest.approx(math.sqrt(3.5))
    # different sizes: Q = 2 ranks, {0, 0.5, 1} is read at ranks 0 and 2, i.e. {0, 1}
    two, three = torch.tensor([[1.0], [0.0]]), torch.tensor([[0.0], [0.5], [1.0]])
    assert float(sliced_wasserstein(two, three)) == pytest.approx(0.0, abs=1e-7)
    # {0, 2} vs {0, 1, 2, 3}: ranks 0 and 3 of the larger cloud are 0 and 3
    four = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    expected = math.sqrt((0 + 1**2) / 2)
    assert float(sliced_wasserstein(torch.tensor([[0.0], [2.0]]), four)) == pytest.approx(expected)


def test_swd_of_a_shifted_cloud_is_the_rms_projected_shift() -> None:
    x = rand(500, 3, seed=1)
    shift = torch.tensor([0.1, -0.05, 0.2])
    directions = random_directions(3, 64, seed=7)
    expected = float((directions @ shift).square().mean().sqrt())
    got = float(sliced_wasserstein(x, x + shift, projections=64, seed=7))
    assert got == pytest.approx(expected, rel=1e-4)
    # E[(c . theta)^2] = |c|^2 / 3 for theta uniform on the sphere
    many = float(sliced_wasserstein(x, x + shift, projections=4096))
    assert many == pytest.approx(float(shift.norm()) / math.sqrt(3), rel=0.05)


def test_color_swd_of_a_shifted_image_matches_the_hand_value() -> None:
    image = rand(1, 3, 20, 24, seed=2, low=0.2, high=0.6)
    shift = torch.tensor([0.1, -0.05, 0.2])[None, :, None, None]
    directions = random_directions(3, COLOR_PROJECTIONS, seed=0)
    expected = float((directions @ shift.flatten()).square().mean().sqrt())
    assert float(color_swd(image + shift, image)) == pytest.approx(expected, rel=1e-4)


def test_swd_is_zero_for_itself_and_symmetric() -> None:
    big, small = rand(1, 3, 140, 130, seed=3), rand(1, 3, 40, 56, seed=4)  # big is subsampled
    for measure in (color_swd, texture_swd):
        assert float(measure(big, big)) == pytest.approx(0.0, abs=1e-6)
        assert float(measure(big, small)) > 0.01
        assert float(measure(big, small)) == pytest.approx(float(measure(small, big)), rel=1e-5)


def test_color_swd_ignores_where_colours_are_and_texture_swd_does_not() -> None:
    image = stripes()
    order = torch.randperm(48 * 48, generator=torch.Generator().manual_seed(0))
    shuffled = image.flatten(2)[..., order].reshape(image.shape)
    assert float(color_swd(shuffled, image)) == pytest.approx(0.0, abs=1e-6)
    assert float(texture_swd(shuffled, image)) > 0.2
    assert float(texture_swd(image, image)) == pytest.approx(0.0, abs=1e-6)


def test_texture_swd_grows_with_noise() -> None:
    image = stripes()
    noisy = [image + sigma * rand(*image.shape, seed=5, low=-1) for sigma in (0.05, 0.1, 0.2)]
    distances = [float(texture_swd(n, image)) for n in noisy]
    assert 0 < distances[0] < distances[1] < distances[2]


def naive_ssim(x: Tensor, y: Tensor, window: int = 11, sigma: float = 1.5) -> float:
    """Wang et al. 2004 with explicit loops over every window position (float64)."""
    x, y = x[0, 0].double(), y[0, 0].double()
    r = torch.arange(window, dtype=torch.float64) - (window - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    w = torch.outer(g, g) / torch.outer(g, g).sum()
    c1, c2 = 0.01**2, 0.03**2
    values = []
    for i in range(x.shape[0] - window + 1):
        for j in range(x.shape[1] - window + 1):
            a, b = x[i : i + window, j : j + window], y[i : i + window, j : j + window]
            mu_a, mu_b = (w * a).sum(), (w * b).sum()
            var_a, var_b = (w * (a - mu_a) ** 2).sum(), (w * (b - mu_b) ** 2).sum()
            cov = (w * (a - mu_a) * (b - mu_b)).sum()
            num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
            values.append(num / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)))
    return float(torch.stack(values).mean())


def test_ssim_matches_a_naive_reference() -> None:
    x, y = rand(1, 1, 14, 13, seed=6), rand(1, 1, 14, 13, seed=7)
    y = 0.6 * x + 0.4 * y  # partly correlated
    assert float(ssim(x, y)) == pytest.approx(naive_ssim(x, y), abs=1e-5)


def test_ssim_of_constant_images_is_the_luminance_term() -> None:
    a, b = 0.3, 0.7
    x, y = torch.full((1, 1, 16, 16), a), torch.full((1, 1, 16, 16), b)
    c1 = 0.01**2
    expected = (2 * a * b + c1) / (a**2 + b**2 + c1)  # sigmas are 0: the contrast term is 1
    assert float(ssim(x, y)) == pytest.approx(expected, rel=1e-5)


def test_ssim_is_one_for_itself_and_drops_with_noise() -> None:
    image = rand(2, 3, 32, 32, seed=8, low=0.2, high=0.8)
    assert torch.allclose(structure_ssim(image, image), torch.ones(2))
    noise = rand(*image.shape, seed=9, low=-1)
    values = [float(structure_ssim(image + s * noise, image).mean()) for s in (0.05, 0.2)]
    assert 1 > values[0] > values[1]


def test_sobel_of_a_ramp_is_its_slope() -> None:
    ramp = (0.1 * torch.arange(8.0)).expand(6, 8)[None, None]
    magnitude = sobel_magnitude(ramp)
    assert torch.allclose(magnitude[..., 1:-1], torch.full((1, 1, 6, 6), 0.1))
    assert torch.allclose(sobel_magnitude(ramp.transpose(-1, -2))[..., 1:-1, :], torch.tensor(0.1))


def test_edge_ssim_ignores_a_brightness_offset() -> None:
    image = rand(1, 3, 32, 32, seed=10, low=0.2, high=0.7)
    brighter = image + 0.2  # Y = 0.299 R + 0.587 G + 0.114 B grows by 0.2, edges stay
    assert float(edge_ssim(brighter, image)) == pytest.approx(1.0, abs=1e-5)
    assert float(structure_ssim(brighter, image)) < 0.99


def test_quality_measures_of_the_photo_and_per_sample_paintings() -> None:
    content = rand(2, 3, 32, 32, seed=11)
    paintings = torch.cat([stripes(40, 40), rand(1, 3, 40, 40, seed=12)])
    measures = quality_measures(content, content, paintings)
    assert set(measures) == {"color_swd", "texture_swd", "ssim", "edge_ssim"}
    assert measures["ssim"] == pytest.approx(1.0) and measures["edge_ssim"] == pytest.approx(1.0)
    singles = [
        quality_measures(content[i, None], content[i, None], paintings[i, None]) for i in (0, 1)
    ]
    for name in ("color_swd", "texture_swd"):
        assert measures[name] == pytest.approx((singles[0][name] + singles[1][name]) / 2)
        assert singles[0][name] > singles[1][name]  # the stripes are farther from the noise
