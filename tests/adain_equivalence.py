"""AdaIN's recipe against pytorch-AdaIN's objective, term by term, in reference_recipes' rows.

:func:`compare_adain` gives the rows ``scripts/reference_equivalence.py`` prints (reference,
size, term, ours, theirs, ratio, gradient cosine) for ``experiment=adain``: our
``AdaINNet(encoder="vgg_normalised", unbiased=True)`` with ``AdaINLoss("paper", 10,
unbiased=True)`` against their ``Net`` (``tests/pytorch_adain.py``) with ``train.py``'s weights,
on the same seeded random weights. The pixels are the decoder's output g(t), which every term
is a function of; gradients are taken there.
"""

from __future__ import annotations

import torch
from pytorch_adain import Net, adaptive_instance_normalization, make_decoder, make_vgg
from torch import Tensor, nn

from fastnst.losses.adain import AdaINLoss
from fastnst.models.adain import AdaINNet, adain

CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
STYLE_WEIGHT = 10.0  # their train.py; content 1


def published_weights(seed: int) -> tuple[nn.Sequential, nn.Sequential]:
    """Their (vgg, decoder) with seeded random weights, index 0 the Caffe preprocessing."""
    torch.manual_seed(seed)
    vgg, decoder = make_vgg().eval(), make_decoder().eval()
    for conv in [m for m in [*vgg, *decoder] if isinstance(m, nn.Conv2d)]:
        nn.init.kaiming_normal_(conv.weight)
        nn.init.uniform_(conv.bias, -0.1, 0.1)
    vgg[0].weight.data = (255.0 * torch.eye(3).flip(0)).view(3, 3, 1, 1)  # RGB -> BGR, 0-255
    vgg[0].bias.data = -torch.tensor(CAFFE_BGR_MEAN)
    return vgg, decoder


def _theirs(net: Net, content: Tensor, style: Tensor, y: Tensor) -> dict[str, Tensor]:
    """Their Net.forward's terms, weighted as train.py, with g(t) replaced by ``y``."""
    with torch.no_grad():
        style_feats = net.encode_with_intermediate(style)
        t = adaptive_instance_normalization(net.encode(content), style_feats[-1])
    feats = net.encode_with_intermediate(y)
    terms = {"content": net.calc_content_loss(feats[-1], t)}
    for i in range(4):
        terms[f"style_relu{i + 1}_1"] = STYLE_WEIGHT * net.calc_style_loss(feats[i], style_feats[i])
    return terms


def _ours(model: AdaINNet, content: Tensor, style: Tensor, y: Tensor) -> dict[str, Tensor]:
    loss = AdaINLoss(1.0, STYLE_WEIGHT, "paper", unbiased=True)
    with torch.no_grad():
        style_feats = model.encoder(style)
        t = adain(model.encoder(content)[-1], style_feats[-1], model.eps, unbiased=True)
    raw = loss(model.encoder(y), t, style_feats)
    terms = {"content": raw["content"]}
    terms |= {k: STYLE_WEIGHT * v for k, v in raw.items() if k.startswith("style_")}
    return terms


def compare_adain(
    size: tuple[int, int], seed: int = 0, dtype: torch.dtype = torch.float64
) -> list[dict[str, object]]:
    """One row per weighted term (content, style per layer, total); sides divisible by 8."""
    vgg, decoder = published_weights(seed)
    model = AdaINNet(encoder="vgg_normalised", unbiased=True)
    model.encoder.features.load_state_dict(nn.Sequential(*list(vgg)[:31]).state_dict())
    model.decoder.load_state_dict(decoder.state_dict())
    net = Net(vgg.to(dtype), decoder.to(dtype))
    model = model.to(dtype)
    generator = torch.Generator().manual_seed(seed)
    content, style = (torch.rand(2, 3, *size, generator=generator, dtype=dtype) for _ in "cs")
    with torch.no_grad():
        t = adaptive_instance_normalization(net.encode(content), net.encode(style))
        g = net.decoder(t)
    y_ours, y_theirs = g.clone().requires_grad_(True), g.clone().requires_grad_(True)
    ours, theirs = _ours(model, content, style, y_ours), _theirs(net, content, style, y_theirs)
    ours["total"], theirs["total"] = sum(ours.values()), sum(theirs.values())
    rows = []
    for term in ours:
        (grad_ours,) = torch.autograd.grad(ours[term], y_ours, retain_graph=True)
        (grad_theirs,) = torch.autograd.grad(theirs[term], y_theirs, retain_graph=True)
        cosine = torch.nn.functional.cosine_similarity(
            grad_ours.flatten(), grad_theirs.flatten(), dim=0
        )
        rows.append({
            "reference": "adain", "size": f"{size[0]}x{size[1]}", "term": term,
            "ours": ours[term].item(), "theirs": theirs[term].item(),
            "ratio": (ours[term].double() / theirs[term].double()).item(),
            "cosine": cosine.item(),
        })  # fmt: skip
    return rows
