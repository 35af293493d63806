"""Offline quality measures of a stylized image: no pretrained weights, no downloads.

For an output ``y`` of the photo ``x`` in the style of the painting ``s``:

- ``color_swd``: sliced Wasserstein distance between the colour distributions of ``y`` and ``s``
  (every pixel a point of R^3; Rabin et al. 2011, "Wasserstein Barycenter and its Application
  to Texture Mixing"). Lower is closer to the painting's palette.
- ``texture_swd``: the same between the distributions of k x k pixel patches (points of
  R^{3k^2}) at several scales, the patch-distribution distance of Elnekave & Weiss 2022
  ("Generating Natural Images with Direct Patch Distributions Matching") and, on VGG features
  instead of pixels, of Heitz et al. 2021 ("A Sliced Wasserstein Loss for Neural Texture
  Synthesis"). Lower is closer to the painting's textures (colours included).
- ``ssim``: SSIM (Wang et al. 2004) between the luminance Y (YIQ) of ``y`` and of ``x``: how
  much of the photo's structure is kept. 1 is identical; near 0 unrelated.
- ``edge_ssim``: SSIM between the Sobel gradient magnitudes of those luminances: are the
  photo's edges where they were (insensitive to flat colour and brightness changes).

All are seeded, so the same images give the same numbers. Images are float RGB in [0, 1], NCHW;
the painting may have any size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from fastnst.color import luminance

PROJECTIONS = 64  # random directions of a sliced Wasserstein distance (texture: R^147)
COLOR_PROJECTIONS = 32  # enough for points of R^3
MAX_POINTS = 16384  # pixels kept per image for the colour SWD (a 128 x 128 image: all)
MAX_PATCHES = 4096  # patches kept per image and scale for the texture SWD
SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8


def random_directions(dim: int, count: int = PROJECTIONS, *, seed: int = 0) -> Tensor:
    """``count`` directions uniform on the unit sphere S^{dim-1} (normalized Gaussians), (K, D)."""
    generator = torch.Generator().manual_seed(seed)
    directions = torch.randn(count, dim, generator=generator)
    return directions / directions.norm(dim=1, keepdim=True)


def _resample_sorted(values: Tensor, count: int) -> Tensor:
    """Sorted rows (K, N) at ``count`` evenly spaced ranks (linear interpolation), (K, count)."""
    n = values.shape[1]
    if n == count:
        return values
    position = torch.linspace(0, n - 1, count, device=values.device, dtype=values.dtype)
    low = position.floor().long()
    high = (low + 1).clamp(max=n - 1)
    frac = position - low
    return values[:, low] * (1 - frac) + values[:, high] * frac


def sliced_wasserstein(
    x: Tensor, y: Tensor, *, projections: int = PROJECTIONS, seed: int = 0
) -> Tensor:
    """Sliced 2-Wasserstein distance between two point clouds (Rabin et al. 2011).

    SW_2(X, Y) = ( 1/K sum_k  1/Q sum_q ( F^-1_{X.theta_k}(t_q) - F^-1_{Y.theta_k}(t_q) )^2 )^1/2

    with theta_k the seeded :func:`random_directions` and F^-1 the quantile function of the
    projected 1-D distribution, read off the sorted projections at Q = min(N, M) evenly spaced
    ranks t_q = q / (Q - 1) (exact when N = M). Symmetric, 0 for identical clouds; for
    Y = X + c every projection is shifted by c . theta_k, so SW_2 = (1/K sum_k (c.theta_k)^2)^1/2.

    Shape:
        x: (N, D). y: (M, D). Returns a scalar.
    """
    directions = random_directions(x.shape[1], projections, seed=seed).to(x.device, x.dtype)
    px = (directions @ x.T).sort(dim=1).values  # (K, N)
    py = (directions @ y.T).sort(dim=1).values  # (K, M)
    count = min(px.shape[1], py.shape[1])
    difference = _resample_sorted(px, count) - _resample_sorted(py, count)
    return difference.square().mean().sqrt()


def _subsample(points: Tensor, limit: int, seed: int) -> Tensor:
    """At most ``limit`` rows of ``points``, drawn without replacement (seeded), (<= limit, D)."""
    if points.shape[0] <= limit:
        return points
    generator = torch.Generator().manual_seed(seed)
    keep = torch.randperm(points.shape[0], generator=generator)[:limit]
    return points[keep.to(points.device)]


def patches(image: Tensor, size: int, limit: int, *, seed: int = 0) -> Tensor:
    """At most ``limit`` of the ``size`` x ``size`` patches of one image, flattened.

    Patch corners are drawn with replacement (seeded) when the image has more patches than
    ``limit``, else every patch is kept.

    Shape:
        image: (C, H, W) with H, W >= size. Returns (P, C * size * size).
    """
    c, h, w = image.shape
    rows, cols = h - size + 1, w - size + 1
    if rows * cols <= limit:
        corners = torch.arange(rows * cols)
    else:
        generator = torch.Generator().manual_seed(seed)
        corners = torch.randint(rows * cols, (limit,), generator=generator)
    corners = corners.to(image.device)
    offset = torch.arange(size, device=image.device)
    ys = (corners // cols)[:, None, None] + offset[None, :, None]  # (P, k, 1)
    xs = (corners % cols)[:, None, None] + offset[None, None, :]  # (P, 1, k)
    return image[:, ys, xs].permute(1, 0, 2, 3).reshape(len(corners), c * size * size)


def _pair(reference: Tensor, index: int) -> Tensor:
    """Image ``index`` of a (N, ...) batch, or the single image of a (1, ...) batch."""
    return reference[index if reference.shape[0] > 1 else 0]


def color_swd(
    image: Tensor, reference: Tensor, *, projections: int = COLOR_PROJECTIONS, seed: int = 0
) -> Tensor:
    """:func:`sliced_wasserstein` between the pixel colours (points of R^3) of two images.

    Blind to where the colours are: any permutation of the pixels gives the same value. Images
    with more than ``MAX_POINTS`` pixels are subsampled (seeded, the same pixels for equal sizes).

    Shape:
        image: (N, 3, H, W). reference: (N or 1, 3, H', W'), any size. Returns (N,).
    """
    values = []
    for i, single in enumerate(image):
        points = [
            _subsample(im.flatten(1).T, MAX_POINTS, seed) for im in (single, _pair(reference, i))
        ]
        values.append(sliced_wasserstein(*points, projections=projections, seed=seed))
    return torch.stack(values)


def texture_swd(
    image: Tensor,
    reference: Tensor,
    *,
    patch: int = 7,
    scales: int = 2,
    projections: int = PROJECTIONS,
    seed: int = 0,
) -> Tensor:
    """:func:`sliced_wasserstein` between the distributions of ``patch`` x ``patch`` patches.

    Mean over ``scales`` scales (scale j: both images average-pooled by 2^j) of the patch SWD,
    each image contributing at most ``MAX_PATCHES`` patches (seeded), as in Elnekave & Weiss
    2022 on pixels (Heitz et al. 2021 use VGG features). Scales where an image gets smaller
    than the patch are left out.

    Shape:
        image: (N, 3, H, W). reference: (N or 1, 3, H', W'), any size. Returns (N,).
    """
    values = []
    for i, single in enumerate(image):
        pair = (single[None], _pair(reference, i)[None])
        distances = []
        for scale in range(scales):
            pooled = [F.avg_pool2d(im, 2**scale) if scale else im for im in pair]
            if min(min(im.shape[-2:]) for im in pooled) < patch:
                break
            clouds = [patches(im[0], patch, MAX_PATCHES, seed=seed) for im in pooled]
            distances.append(sliced_wasserstein(*clouds, projections=projections, seed=seed))
        values.append(torch.stack(distances).mean() if distances else image.new_tensor(0.0))
    return torch.stack(values)


def _gaussian_window(size: int, sigma: float, like: Tensor) -> Tensor:
    """Normalized 1-D Gaussian, (1, 1, size): the 2-D window is its outer product."""
    x = torch.arange(size, device=like.device, dtype=like.dtype) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return (g / g.sum())[None, None]


def ssim(
    x: Tensor, y: Tensor, *, window: int = 11, sigma: float = 1.5, data_range: float = 1.0
) -> Tensor:
    """Mean structural similarity (Wang et al. 2004, "Image Quality Assessment: From Error
    Visibility to Structural Similarity", eq. 13 and 17) of two single-channel images.

    SSIM(x, y) = (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 +
    sigma_y^2 + C2)), with local means, variances and covariance under a ``window`` x ``window``
    Gaussian of std ``sigma``, C1 = (0.01 L)^2, C2 = (0.03 L)^2, L = ``data_range``, averaged
    over every position where the window fits (no padding). Images smaller than the window
    use a window of their size.

    Shape:
        x, y: (N, 1, H, W). Returns (N,).
    """
    size = min(window, *x.shape[-2:])
    g = _gaussian_window(size, sigma, x)  # separable: one row, then one column

    def local(t: Tensor) -> Tensor:
        return F.conv2d(F.conv2d(t, g[..., None, :]), g[..., :, None])

    mu_x, mu_y = local(x), local(y)
    # (co)variances of the globally centred images: the same values, less cancellation
    xc, yc = x - x.mean(dim=(2, 3), keepdim=True), y - y.mean(dim=(2, 3), keepdim=True)
    mu_xc, mu_yc = local(xc), local(yc)
    var_x = local(xc * xc) - mu_xc**2
    var_y = local(yc * yc) - mu_yc**2
    cov = local(xc * yc) - mu_xc * mu_yc
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    numerator = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    denominator = (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    return (numerator / denominator).mean(dim=(1, 2, 3))


def sobel_magnitude(image: Tensor) -> Tensor:
    """Gradient magnitude (g_x^2 + g_y^2)^1/2 with the Sobel kernels / 8 (replicate padding).

    With the 1/8 scaling g_x is the mean horizontal difference per pixel, so a [0, 1] image
    gives magnitudes in [0, 1/sqrt 2].

    Shape:
        image: (N, 1, H, W). Returns (N, 1, H, W).
    """
    kx = SOBEL_X.to(image.device, image.dtype)[None, None]
    padded = F.pad(image, (1, 1, 1, 1), mode="replicate")
    gx, gy = F.conv2d(padded, kx), F.conv2d(padded, kx.transpose(-1, -2))
    return torch.hypot(gx, gy)


def structure_ssim(output: Tensor, content: Tensor) -> Tensor:
    """:func:`ssim` of the luminances Y (YIQ), (N,): the photo's structure kept."""
    return ssim(luminance(output), luminance(content))


def edge_ssim(output: Tensor, content: Tensor) -> Tensor:
    """:func:`ssim` of the Sobel magnitudes of the luminances, (N,): the photo's edges kept."""
    return ssim(sobel_magnitude(luminance(output)), sobel_magnitude(luminance(content)))


@torch.no_grad()
def quality_measures(output: Tensor, content: Tensor, style: Tensor) -> dict[str, float]:
    """All measures, each averaged over the batch.

    Args:
        output: Stylized images, (N, 3, H, W) in [0, 1].
        content: Their photos, (N, 3, H, W).
        style: The painting, (1, 3, H', W'), or one painting per sample, (N, 3, H', W').

    Returns:
        ``color_swd`` and ``texture_swd`` (to the painting, lower is closer), ``ssim`` (the
        default structure measure) and ``edge_ssim`` (to the photo, 1 is identical).
    """
    output, content, style = output.float(), content.float(), style.float()
    measures = {
        "color_swd": color_swd(output, style),
        "texture_swd": texture_swd(output, style),
        "ssim": structure_ssim(output, content),
        "edge_ssim": edge_ssim(output, content),
    }
    return {name: float(value.mean()) for name, value in measures.items()}
