"""naoto0804/pytorch-AdaIN (MIT), transcribed for the equivalence tests: the reference, not ours.

``net.py`` (``vgg``, ``decoder``, ``Net``), ``function.py`` (``calc_mean_std``,
``adaptive_instance_normalization``) and ``test.py`` (``style_transfer``) as published, with
the modules built by functions (theirs are module-level globals) and ``device`` an argument.
Nothing here imports fastnst.
"""

from __future__ import annotations

import torch
import torch.nn as nn


def calc_mean_std(feat, eps=1e-5):
    # eps is a small value added to the variance to avoid divide-by-zero.
    size = feat.size()
    assert len(size) == 4
    N, C = size[:2]
    feat_var = feat.view(N, C, -1).var(dim=2) + eps
    feat_std = feat_var.sqrt().view(N, C, 1, 1)
    feat_mean = feat.view(N, C, -1).mean(dim=2).view(N, C, 1, 1)
    return feat_mean, feat_std


def adaptive_instance_normalization(content_feat, style_feat):
    assert content_feat.size()[:2] == style_feat.size()[:2]
    size = content_feat.size()
    style_mean, style_std = calc_mean_std(style_feat)
    content_mean, content_std = calc_mean_std(content_feat)

    normalized_feat = (content_feat - content_mean.expand(size)) / content_std.expand(size)
    return normalized_feat * style_std.expand(size) + style_mean.expand(size)


def make_decoder() -> nn.Sequential:
    return nn.Sequential(
        nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(512, 256, (3, 3)), nn.ReLU(),
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(256, 256, (3, 3)), nn.ReLU(),
        nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(256, 256, (3, 3)), nn.ReLU(),
        nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(256, 256, (3, 3)), nn.ReLU(),
        nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(256, 128, (3, 3)), nn.ReLU(),
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(128, 128, (3, 3)), nn.ReLU(),
        nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(128, 64, (3, 3)), nn.ReLU(),
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(64, 64, (3, 3)), nn.ReLU(),
        nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(64, 3, (3, 3)),
    )  # fmt: skip


def make_vgg() -> nn.Sequential:
    pool = lambda: nn.MaxPool2d((2, 2), (2, 2), (0, 0), ceil_mode=True)  # noqa: E731
    pad = lambda: nn.ReflectionPad2d((1, 1, 1, 1))  # noqa: E731
    return nn.Sequential(
        nn.Conv2d(3, 3, (1, 1)),
        pad(), nn.Conv2d(3, 64, (3, 3)), nn.ReLU(),  # relu1-1
        pad(), nn.Conv2d(64, 64, (3, 3)), nn.ReLU(),  # relu1-2
        pool(),
        pad(), nn.Conv2d(64, 128, (3, 3)), nn.ReLU(),  # relu2-1
        pad(), nn.Conv2d(128, 128, (3, 3)), nn.ReLU(),  # relu2-2
        pool(),
        pad(), nn.Conv2d(128, 256, (3, 3)), nn.ReLU(),  # relu3-1
        pad(), nn.Conv2d(256, 256, (3, 3)), nn.ReLU(),  # relu3-2
        pad(), nn.Conv2d(256, 256, (3, 3)), nn.ReLU(),  # relu3-3
        pad(), nn.Conv2d(256, 256, (3, 3)), nn.ReLU(),  # relu3-4
        pool(),
        pad(), nn.Conv2d(256, 512, (3, 3)), nn.ReLU(),  # relu4-1, this is the last layer used
        pad(), nn.Conv2d(512, 512, (3, 3)), nn.ReLU(),  # relu4-2
        pad(), nn.Conv2d(512, 512, (3, 3)), nn.ReLU(),  # relu4-3
        pad(), nn.Conv2d(512, 512, (3, 3)), nn.ReLU(),  # relu4-4
        pool(),
        pad(), nn.Conv2d(512, 512, (3, 3)), nn.ReLU(),  # relu5-1
        pad(), nn.Conv2d(512, 512, (3, 3)), nn.ReLU(),  # relu5-2
        pad(), nn.Conv2d(512, 512, (3, 3)), nn.ReLU(),  # relu5-3
        pad(), nn.Conv2d(512, 512, (3, 3)), nn.ReLU(),  # relu5-4
    )  # fmt: skip


class Net(nn.Module):
    def __init__(self, encoder, decoder):
        super().__init__()
        enc_layers = list(encoder.children())
        self.enc_1 = nn.Sequential(*enc_layers[:4])  # input -> relu1_1
        self.enc_2 = nn.Sequential(*enc_layers[4:11])  # relu1_1 -> relu2_1
        self.enc_3 = nn.Sequential(*enc_layers[11:18])  # relu2_1 -> relu3_1
        self.enc_4 = nn.Sequential(*enc_layers[18:31])  # relu3_1 -> relu4_1
        self.decoder = decoder
        self.mse_loss = nn.MSELoss()
        for name in ["enc_1", "enc_2", "enc_3", "enc_4"]:
            for param in getattr(self, name).parameters():
                param.requires_grad = False

    def encode_with_intermediate(self, input):
        results = [input]
        for i in range(4):
            func = getattr(self, f"enc_{i + 1:d}")
            results.append(func(results[-1]))
        return results[1:]

    def encode(self, input):
        for i in range(4):
            input = getattr(self, f"enc_{i + 1:d}")(input)
        return input

    def calc_content_loss(self, input, target):
        assert input.size() == target.size()
        assert target.requires_grad is False
        return self.mse_loss(input, target)

    def calc_style_loss(self, input, target):
        assert input.size() == target.size()
        assert target.requires_grad is False
        input_mean, input_std = calc_mean_std(input)
        target_mean, target_std = calc_mean_std(target)
        return self.mse_loss(input_mean, target_mean) + self.mse_loss(input_std, target_std)

    def forward(self, content, style, alpha=1.0):
        """Their forward, also returning g_t and the per-layer style terms (for the tests)."""
        assert 0 <= alpha <= 1
        style_feats = self.encode_with_intermediate(style)
        content_feat = self.encode(content)
        t = adaptive_instance_normalization(content_feat, style_feats[-1])
        t = alpha * t + (1 - alpha) * content_feat

        g_t = self.decoder(t)
        g_t_feats = self.encode_with_intermediate(g_t)

        loss_c = self.calc_content_loss(g_t_feats[-1], t)
        loss_s = self.calc_style_loss(g_t_feats[0], style_feats[0])
        for i in range(1, 4):
            loss_s += self.calc_style_loss(g_t_feats[i], style_feats[i])
        per_layer = [self.calc_style_loss(g_t_feats[i], style_feats[i]) for i in range(4)]
        return loss_c, loss_s, g_t, per_layer


def style_transfer(vgg, decoder, content, style, alpha=1.0, interpolation_weights=None):
    """test.py's ``style_transfer`` (``device`` taken from ``content``)."""
    assert 0.0 <= alpha <= 1.0
    content_f = vgg(content)
    style_f = vgg(style)
    if interpolation_weights:
        _, C, H, W = content_f.size()
        feat = torch.FloatTensor(1, C, H, W).zero_().to(content.device)
        base_feat = adaptive_instance_normalization(content_f, style_f)
        for i, w in enumerate(interpolation_weights):
            feat = feat + w * base_feat[i : i + 1]
        content_f = content_f[0:1]
    else:
        feat = adaptive_instance_normalization(content_f, style_f)
    feat = feat * alpha + content_f * (1 - alpha)
    return decoder(feat)
