"""The perceptual loss shared by the trainer and the optimization solver."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial

import torch
from torch import Tensor, nn

from fastnst.color import luminance, match_luminance
from fastnst.errors import FastNSTError
from fastnst.losses.functional import (
    CONTENT_FEATURES,
    CONTENT_NORMALIZATIONS,
    NORMALIZATIONS,
    TV_NORMALIZATIONS,
    combine_layers,
    content_loss,
    half_squared_error,
    johnson_total_variation,
    relative_total_variation,
    total_variation,
)
from fastnst.losses.statistics import (
    STATISTICS,
    cross_gram,
    make_statistic,
    normalized_content_loss,
)
from fastnst.losses.style import StyleLoss


def _grey(image: Tensor) -> Tensor:
    """The luminance Y of YIQ repeated on R, G and B, (N, 3, H, W)."""
    return luminance(image).expand(-1, 3, -1, -1)


class PerceptualLoss(nn.Module):
    """Content + style + total variation loss over one encoder pass (Johnson et al. 2016, eq. 5).

        L(y; x, s) = w_c sum_l a_l E_content,l(y, x) + w_s L_style(y, s) + w_tv TV(y)
        L_style    = sum_l b_l E_style,l   (or, log-balanced, see ``log_alpha``)

    with the per-term normalization of :mod:`fastnst.losses.functional`. With
    ``style_normalization="target"`` every term is relative to its reference (the scale-free
    loss, used for random-VGG runs):

        E_style,l   = mean((S_l(y) - S_l(s))^2) / mean(S_l(s)^2)   per painting s
        E_content,l = mean((F_l(y) - F_l(x))^2) / mean(F_l(x)^2)   per image x, batch mean
        TV          = TV(y) / TV(x)        with ``tv_normalization="content"``

    so w_s = 1 means "as much style as content" whatever the encoder, its weights, the layer,
    the painting or the image size, and w_tv = 1 penalizes as much variation as the photo has.

    ``forward`` returns every term (unweighted, per style layer too) so trainers and solvers can
    log them. Every variant below is a keyword of the ``loss`` config, so the trainer and the
    solver get it alike.

    Args:
        encoder: Returns ``{layer name: features}`` for ``encoder(image, layers)``; a
            :class:`~fastnst.vgg.VGGFeatures` in practice, a tiny network in tests. Style from
            pre-ReLU features: name conv layers (``conv1_1``) instead of ReLUs (``relu1_1``).
        content_layers: Layer name -> weight a_l.
        style_layers: Layer name -> weight b_l, shallow to deep.
        content_weight: w_c.
        content_features: ``"raw"`` (E_content,l above, Johnson et al. 2016) or
            ``"normalized"``: each channel standardized over its pixels before the comparison
            (Park & Lee 2019, :func:`~fastnst.losses.statistics.normalized_content_loss`), so
            each channel's mean and spread are left to the style term and, with a random VGG,
            a blur costs the content term as much as a change of colour.
        content_normalization: ``"elements"``: the mean (Johnson et al. 2016) or
            ``"gatys"``: 1/2 the sum per image (Gatys et al. 2016, eq. 1,
            :func:`~fastnst.losses.functional.half_squared_error`).
        style_weight: w_s.
        tv_weight: w_tv.
        tv_p: 2 for squared total variation, 1 for L1 (:func:`total_variation`).
        tv_normalization: ``"absolute"``: TV(y) as it is (Johnson et al. 2016). ``"content"``:
            TV(y) / TV(x), relative to the content photo's own variation, per image, batch
            mean (:func:`relative_total_variation`); the one to pair with ``"target"``.
            ``"johnson"``: their ``TotalVariation.lua``, a sum over the batch
            (:func:`~fastnst.losses.functional.johnson_total_variation`; ``tv_p`` unused).
        style_statistic: ``"gram"`` (Gatys et al. 2016), ``"gradient_gram"`` (Gram of the
            activations and their finite differences) or ``"mean_std"`` (per-channel mean and
            std, Huang & Belongie 2017); see :mod:`fastnst.losses.statistics`.
        style_normalization: ``"elements"`` (mean), ``"gatys"`` (1 / (4 N^2 M^2) sum form),
            ``"magenta"`` (Grams / (H W) compared by their mean), ``"frobenius"`` (unit-norm
            statistics) or ``"target"`` (relative to the painting's
            own mean square; it also makes the content term relative to the photo's, see
            above); see ``style_distance``.
        activation_shift: s in G = (F + s)(F + s)^T (Novak & Nikulin 2016 use s = -1).
        correlation_chain: Compare Grams between neighbouring style layers, the deeper one
            upsampled (Novak & Nikulin 2016, :func:`cross_gram`), instead of one Gram per layer;
            link (l, l+1) gets the weight of l, and the deepest layer's own weight is unused.
        log_alpha: ``None`` for the plain weighted sum over style layers; alpha > 1 for the
            log-balanced style term sum_l b_l log(alpha + w_s E_l) (:func:`combine_layers`),
            which replaces w_s L_style in L (and is what ``forward`` reports as ``style``).
            w_s moves inside the log so that it decides where the log acts: layers with
            w_s E_l >> alpha get gradients b_l / E_l, scale free, those with w_s E_l << alpha
            stay linear.
        luminance_only: Colour preservation (Gatys et al. 2017, "Controlling Perceptual Factors
            in Neural Style Transfer", sec. 5.1): the output and the content enter the encoder as
            their luminance Y repeated on RGB, and the style as its luminance matched to the
            content's mean and std (:func:`~fastnst.color.match_luminance`) when
            :meth:`set_style` is given the content. Deviation: in training there is no single
            content image, so the style's own luminance is used unmatched. TV still acts on the
            RGB output. Recombine the result with the content's chroma by
            :func:`~fastnst.color.transfer_luminance`.
    """

    def __init__(
        self,
        encoder: nn.Module,
        content_layers: Mapping[str, float],
        style_layers: Mapping[str, float],
        *,
        content_weight: float = 1.0,
        content_features: str = "raw",
        content_normalization: str = "elements",
        style_weight: float = 1e5,
        tv_weight: float = 0.0,
        tv_p: int = 2,
        tv_normalization: str = "absolute",
        style_statistic: str = "gram",
        style_normalization: str = "elements",
        activation_shift: float = 0.0,
        correlation_chain: bool = False,
        log_alpha: float | None = None,
        luminance_only: bool = False,
    ) -> None:
        super().__init__()
        _check_options(style_statistic, style_normalization, correlation_chain, log_alpha, tv_p)
        if tv_normalization not in TV_NORMALIZATIONS:
            raise FastNSTError(
                f"unknown loss.tv_normalization {tv_normalization!r}; use one of "
                f"{TV_NORMALIZATIONS}"
            )
        if content_normalization not in CONTENT_NORMALIZATIONS:
            raise FastNSTError(
                f"unknown loss.content_normalization {content_normalization!r}; use elements or "
                "gatys"
            )
        if content_features not in CONTENT_FEATURES:
            raise FastNSTError(
                f"unknown loss.content_features {content_features!r}; use raw or normalized"
            )
        self.encoder = encoder
        self.content_layers = {name: float(w) for name, w in content_layers.items()}
        self.style_layers = {name: float(w) for name, w in style_layers.items()}
        names = list(self.style_layers)
        if correlation_chain and len(names) < 2:
            raise FastNSTError("loss.correlation_chain=true needs at least 2 loss.style_layers")
        if correlation_chain:
            links = list(zip(names[:-1], names[1:], strict=True))
            statistic = partial(cross_gram, shift=activation_shift)
        else:
            links = [(name,) for name in names]
            statistic = make_statistic(style_statistic, activation_shift)
        self.style_links = {"-".join(link): link for link in links}  # term name -> layers
        self.style_term_weights = {  # a link is weighted by its shallower layer
            key: self.style_layers[link[0]] for key, link in self.style_links.items()
        }
        self.style_losses = nn.ModuleDict(
            {key: StyleLoss(statistic, style_normalization) for key in self.style_links}
        )
        self.content_weight = content_weight
        self.content_features = content_features
        self.content_normalization = content_normalization
        self.style_weight = style_weight
        self.tv_weight = tv_weight
        self.tv_p = tv_p
        self.tv_normalization = tv_normalization
        self.relative_content = style_normalization == "target"
        self.log_alpha = log_alpha
        self.luminance_only = luminance_only

    def _content_term(self, features: Tensor, target: Tensor) -> Tensor:
        if self.content_features == "normalized":
            return normalized_content_loss(features, target)
        if self.content_normalization == "gatys":
            return half_squared_error(features, target)
        return content_loss(features, target, self.relative_content)

    @torch.no_grad()
    def set_style(self, style: Tensor | Sequence[Tensor], content: Tensor | None = None) -> None:
        """Compute the style targets once, one per painting, RGB in [0, 1].

        Args:
            style: The paintings: a (S, 3, H, W) tensor, or a sequence of (1, 3, H_k, W_k)
                tensors when their sizes differ. Painting k is style index k of ``forward``.
            content: Matters only with ``luminance_only``: each painting's luminance is then
                matched to its mean and std (pass the content image when optimizing one image).
        """
        paintings = list(style.split(1)) if isinstance(style, Tensor) else list(style)
        if self.luminance_only:
            paintings = [
                _grey(p) if content is None else match_luminance(p, content) for p in paintings
            ]
        features = [self.encoder(p, list(self.style_layers)) for p in paintings]
        for key, loss in self.style_losses.items():
            loss.set_target(*([f[name] for f in features] for name in self.style_links[key]))

    @property
    def num_styles(self) -> int:
        """How many paintings the targets were computed for (0 before :meth:`set_style`)."""
        return next(iter(self.style_losses.values())).target.shape[0]

    def forward(
        self, output: Tensor, content: Tensor, style: Tensor | None = None
    ) -> dict[str, Tensor]:
        """All loss terms of ``output`` for the content images ``content``.

        ``style`` is the (B,) painting index of each sample (``None`` with one painting).

        Returns:
            ``total``, ``content``, ``style``, ``tv`` and ``style_<term>`` (unweighted E_l; a
            term is a layer name, or ``<layer>-<deeper layer>`` with ``correlation_chain``).
        """
        if self.tv_normalization == "content":
            tv = relative_total_variation(output, content, self.tv_p)
        elif self.tv_normalization == "johnson":
            tv = johnson_total_variation(output)
        else:
            tv = total_variation(output, self.tv_p)
        if self.luminance_only:
            output, content = _grey(output), _grey(content)
        with torch.no_grad():
            targets = self.encoder(content, list(self.content_layers))
        features = self.encoder(output, list(self.content_layers | self.style_layers))
        per_term = {
            key: loss(*(features[name] for name in self.style_links[key]), style=style)
            for key, loss in self.style_losses.items()
        }
        if self.log_alpha is None:
            style = combine_layers(per_term, self.style_term_weights)
            weighted_style = self.style_weight * style
        else:  # w_s inside the log: it sets where the balancing starts (w_s E_l ~ alpha)
            scaled = {key: self.style_weight * value for key, value in per_term.items()}
            style = weighted_style = combine_layers(scaled, self.style_term_weights, self.log_alpha)
        content = sum(
            weight * self._content_term(features[name], targets[name])
            for name, weight in self.content_layers.items()
        )
        total = self.content_weight * content + weighted_style + self.tv_weight * tv
        terms = {f"style_{key}": value for key, value in per_term.items()}
        return {"total": total, "content": content, "style": style, "tv": tv, **terms}


def _check_options(
    statistic: str, normalization: str, chain: bool, log_alpha: float | None, tv_p: int
) -> None:
    """Turn a bad loss option into a one-line error naming the config key."""
    if statistic not in STATISTICS:
        raise FastNSTError(f"unknown loss.style_statistic {statistic!r}; use one of {STATISTICS}")
    if normalization not in NORMALIZATIONS:
        raise FastNSTError(
            f"unknown loss.style_normalization {normalization!r}; use one of {NORMALIZATIONS}"
        )
    if chain and statistic != "gram":
        raise FastNSTError("loss.correlation_chain=true needs loss.style_statistic=gram")
    if log_alpha is not None and log_alpha <= 1:
        raise FastNSTError(f"loss.log_alpha must be > 1 (or null for a plain sum), got {log_alpha}")
    if tv_p not in (1, 2):
        raise FastNSTError(f"loss.tv_p must be 1 (L1) or 2 (squared), got {tv_p}")
