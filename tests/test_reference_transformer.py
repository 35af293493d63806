"""``model.pixel_range=255`` is pytorch/examples' network: same parameters, same loss, same
parameter gradients, same Adam steps as their TransformerNet + loss on 0-255 pixels."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from test_interop import ExamplesTransformerNet, examples_checkpoint

from fastnst import FastNSTError
from fastnst.models import TransformerNet, build_model
from fastnst.models.interop.examples import _PREFIXES, from_examples_state_dict
from fastnst.vgg import load_vgg_state_dict

# pytorch/examples vgg.py: the slices of torchvision's vgg16().features
EXAMPLES_SLICES = ((0, 4), (4, 9), (9, 16), (16, 23))  # relu1_2, relu2_2, relu3_3, relu4_3
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def examples_vgg16(state: dict[str, torch.Tensor]) -> torch.nn.Sequential:
    """torchvision's ``vgg16().features[:23]`` with ``state`` (max pooling, zero padding)."""
    layers: list[torch.nn.Module] = []
    cin = 3
    for item in [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512]:
        if item == "M":
            layers.append(torch.nn.MaxPool2d(2, 2))
        else:
            layers += [torch.nn.Conv2d(cin, item, 3, padding=1), torch.nn.ReLU()]
            cin = item
    vgg = torch.nn.Sequential(*layers)
    vgg.load_state_dict({k: v for k, v in state.items() if int(k.split(".")[0]) < len(vgg)})
    return vgg.requires_grad_(False)


def examples_loss(net, vgg, x255, style255) -> torch.Tensor:
    """neural_style.py's training loss, as written there (0-255 tensors, normalize_batch)."""

    def normalize_batch(batch):
        mean = batch.new_tensor(MEAN).view(-1, 1, 1)
        std = batch.new_tensor(STD).view(-1, 1, 1)
        return (batch / 255.0 - mean) / std  # theirs divides in place: the same values

    def features(batch):
        out = []
        for start, stop in EXAMPLES_SLICES:
            batch = vgg[start:stop](batch)
            out.append(batch)
        return out

    def gram_matrix(y):
        b, ch, h, w = y.size()
        f = y.view(b, ch, w * h)
        return f.bmm(f.transpose(1, 2)) / (ch * h * w)

    mse = torch.nn.MSELoss()
    n_batch = len(x255)
    style = style255.repeat(n_batch, 1, 1, 1)
    gram_style = [gram_matrix(f) for f in features(normalize_batch(style))]
    features_y = features(normalize_batch(net(x255)))
    features_x = features(normalize_batch(x255))
    content = 1e5 * mse(features_y[1], features_x[1])
    style_loss = 0.0
    for ft_y, gm_s in zip(features_y, gram_style, strict=True):
        style_loss += mse(gram_matrix(ft_y), gm_s[:n_batch, :, :])
    return content + 1e10 * style_loss


def test_pixel_range_255_is_their_network_and_training_step(tmp_path: Path, make_cfg) -> None:
    reference = examples_checkpoint(tmp_path / "theirs.pth", old_keys=False).train()
    state = torch.load(tmp_path / "theirs.pth", weights_only=True)
    ours = from_examples_state_dict(state, pixel_range=255).train()
    named = dict(ours.named_parameters())
    pairs = {}  # their parameter name -> ours
    for key in state:
        prefix, _, param = key.rpartition(".")
        pairs[key] = named[f"{_PREFIXES[prefix]}.{param}"]
        assert torch.equal(pairs[key], state[key])  # the parameters are exactly theirs

    cfg = make_cfg("loss=examples", "data.image_size=32")
    assert cfg.model.pixel_range == 255 and cfg.loss.tv_weight == 0 and cfg.style.size == 64
    loss = instantiate(cfg.loss)
    generator = torch.Generator().manual_seed(3)
    x = torch.rand(2, 3, 32, 36, generator=generator)
    style = torch.rand(1, 3, 40, 28, generator=generator)
    loss.set_style(style)
    vgg = examples_vgg16(load_vgg_state_dict("vgg16", "random", seed=cfg.vgg.seed))
    their_params = dict(reference.named_parameters())
    # Biases whose shift the next instance norm removes (those of the convs before a norm, and
    # the residual blocks' last norm: a per-channel constant through the residual stream) have
    # gradient 0 up to rounding; the others must agree as fp32 rounding allows.
    live = [k for k in pairs if not re.search(r"(conv2d\.bias|res\d\.in2\.bias)$", k)]
    live += ["deconv3.conv2d.bias"]
    adam_ours = torch.optim.Adam(ours.parameters(), lr=1e-3)
    adam_theirs = torch.optim.Adam(reference.parameters(), lr=1e-3)
    for step in range(2):
        adam_ours.zero_grad(), adam_theirs.zero_grad()
        mine = loss(ours(x), x)["total"]
        theirs = examples_loss(reference, vgg, x * 255, style * 255)
        # after a step, Adam's g / sqrt(v) turns rounding in near-zero gradients into +-lr
        assert mine.item() == pytest.approx(theirs.item(), rel=1e-5 if step == 0 else 1e-4)
        mine.backward(), theirs.backward()
        for key in live if step == 0 else []:
            expected = their_params[key].grad
            assert (pairs[key].grad - expected).norm() <= 1e-5 * expected.norm(), key
        adam_ours.step(), adam_theirs.step()


def test_pixel_range_is_recorded_only_when_not_1() -> None:
    assert "pixel_range" not in TransformerNet().config  # old checkpoints' configs, as written
    net = TransformerNet(width=4, num_residual_blocks=1, pixel_range=255)
    assert net.config["pixel_range"] == 255
    rebuilt = build_model("johnson", **net.config)
    rebuilt.load_state_dict(net.state_dict())
    x = torch.rand(1, 3, 20, 24)
    with torch.no_grad():  # y = net(255 x) / 255: the same layers on a scaled input
        plain = TransformerNet(width=4, num_residual_blocks=1)
        plain.load_state_dict(net.state_dict())
        assert torch.allclose(rebuilt(x), plain(x * 255) / 255, rtol=1e-5, atol=1e-6)
    with pytest.raises(FastNSTError, match="pixel_range"):
        TransformerNet(pixel_range=0)


def test_folded_and_unfolded_loads_compute_the_same(tmp_path: Path) -> None:
    reference = examples_checkpoint(tmp_path / "candy.pth")
    state = torch.load(tmp_path / "candy.pth", weights_only=True)
    x = torch.rand(1, 3, 36, 44)
    with torch.no_grad():
        expected = reference(x * 255) / 255
        unfolded = from_examples_state_dict(state, pixel_range=255)(x)
    assert (unfolded - expected).abs().max() < 1e-4  # as tests/test_interop.py's folded load
    assert isinstance(reference, ExamplesTransformerNet)
