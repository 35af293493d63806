"""The references' objectives re-implemented from their published code.

Each ``*_reference(state, y, x, s)`` is written from the reference itself, in its conventions
(0-255 pixels, BGR, NHWC, sums or means, their layer indices), on the VGG weights ``state``
(torchvision's ``features`` keys), for outputs ``y``, photos ``x`` and painting ``s`` (RGB in
[0, 1], NCHW); it returns every weighted term of the reference's loss, keyed by our term names.
:mod:`reference_recipes` puts them beside ours.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Terms = dict[str, Tensor]
VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M"]
VGG19 = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512]
TORCHVISION = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def vgg_sequential(cfg: list, state: dict[str, Tensor], pool: type[nn.Module]) -> nn.Sequential:
    """torchvision's ``vgg*.features`` layout (conv, ReLU, ..., pool) holding ``state``."""
    layers: list[nn.Module] = []
    cin = 3
    for item in cfg:
        if item == "M":
            layers.append(pool(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(cin, item, 3, padding=1), nn.ReLU()]
            cin = item
    net = nn.Sequential(*layers)
    net.load_state_dict({k: v for k, v in state.items() if int(k.split(".")[0]) < len(net)})
    return net.to(next(iter(state.values())).dtype).requires_grad_(False)


def run_to(net: nn.Sequential, x: Tensor, taps: dict[int, str]) -> dict[str, Tensor]:
    """Outputs of ``net``'s modules at the 0-based indices ``taps``."""
    out = {}
    for index, module in enumerate(net[: max(taps) + 1]):
        x = module(x)
        if index in taps:
            out[taps[index]] = x
    return out


def examples_reference(state: dict[str, Tensor], y: Tensor, x: Tensor, s: Tensor) -> Terms:
    """pytorch/examples ``neural_style.py`` train(): 0-255 tensors, ``normalize_batch``."""
    vgg = vgg_sequential(VGG16, state, nn.MaxPool2d)  # vgg.py: slices [0:4] [4:9] [9:16] [16:23]
    taps = {3: "relu1_2", 8: "relu2_2", 15: "relu3_3", 22: "relu4_3"}

    def normalize_batch(batch: Tensor) -> Tensor:
        mean = batch.new_tensor(TORCHVISION[0]).view(-1, 1, 1)
        std = batch.new_tensor(TORCHVISION[1]).view(-1, 1, 1)
        return (batch / 255.0 - mean) / std

    def gram_matrix(f: Tensor) -> Tensor:
        b, ch, h, w = f.size()
        features = f.view(b, ch, w * h)
        return features.bmm(features.transpose(1, 2)) / (ch * h * w)

    n_batch = len(y)
    style = (s * 255).repeat(n_batch, 1, 1, 1)
    gram_style = {k: gram_matrix(v) for k, v in run_to(vgg, normalize_batch(style), taps).items()}
    features_y = run_to(vgg, normalize_batch(y * 255), taps)
    features_x = run_to(vgg, normalize_batch(x * 255), taps)
    terms = {"content": 1e5 * F.mse_loss(features_y["relu2_2"], features_x["relu2_2"])}
    for name in taps.values():
        gm_y = gram_matrix(features_y[name])
        terms[f"style_{name}"] = 1e10 * F.mse_loss(gm_y, gram_style[name][:n_batch])
    return terms


JOHNSON_MEAN_BGR = (103.939, 116.779, 123.68)  # preprocess.lua vgg_mean


def johnson_preprocess(img: Tensor) -> Tensor:
    """preprocess.lua ``M.vgg.preprocess``: RGB [0, 1] -> BGR, x 255, minus the mean."""
    mean = img.new_tensor(JOHNSON_MEAN_BGR).view(1, 3, 1, 1)
    return img[:, [2, 1, 0]] * 255 - mean


def johnson_tv_grad(img: Tensor, strength: float) -> Tensor:
    """TotalVariation.lua ``updateGradInput`` (without gradOutput), 0-based slices."""
    grad = torch.zeros_like(img)
    x_diff = img[:, :, :-1, :-1] - img[:, :, :-1, 1:]
    y_diff = img[:, :, :-1, :-1] - img[:, :, 1:, :-1]
    grad[:, :, :-1, :-1] += x_diff + y_diff
    grad[:, :, :-1, 1:] -= x_diff
    grad[:, :, 1:, :-1] -= y_diff
    return grad * strength


def johnson_reference(state: dict[str, Tensor], y: Tensor, x: Tensor, s: Tensor) -> Terms:
    """jcjohnson/fast-neural-style train.lua defaults through PerceptualCriterion.

    Their loss network is the Caffe VGG16 in BGR order: our RGB first convolution reversed.
    Layers are 1-based indices of that nn.Sequential: content '16', style '4,9,16,23'. The
    outputs ``y`` are what their network outputs, in the preprocessed (BGR, 0-255) space.
    """
    bgr = dict(state)
    bgr["0.weight"] = state["0.weight"][:, [2, 1, 0]]
    vgg = vgg_sequential(VGG16, bgr, nn.MaxPool2d)
    taps = {4 - 1: "relu1_2", 9 - 1: "relu2_2", 16 - 1: "relu3_3", 23 - 1: "relu4_3"}

    def gram(f: Tensor) -> Tensor:  # GramMatrix.lua, normalize = true
        n, c, h, w = f.shape
        flat = f.reshape(n, c, h * w)
        return torch.bmm(flat, flat.transpose(1, 2)) / (c * h * w)

    y_c = johnson_preprocess(y)
    target = {k: gram(v) for k, v in run_to(vgg, johnson_preprocess(s), taps).items()}
    content_target = run_to(vgg, johnson_preprocess(x), taps)["relu3_3"]
    out = run_to(vgg, y_c, taps)
    terms = {"content": 1.0 * F.mse_loss(out["relu3_3"], content_target)}  # MSECriterion
    for name in taps.values():
        agg = gram(out[name])
        terms[f"style_{name}"] = 5.0 * F.mse_loss(agg, target[name].expand_as(agg))
    # TotalVariation.lua has a backward only: the loss whose gradient it returns, checked
    # against that gradient below (johnson_tv_grad) rather than through autograd.
    x_diff = y_c[:, :, :-1, :-1] - y_c[:, :, :-1, 1:]
    y_diff = y_c[:, :, :-1, :-1] - y_c[:, :, 1:, :-1]
    terms["tv"] = 1e-6 * ((x_diff**2).sum() + (y_diff**2).sum()) / 2
    return terms


MAGENTA_MEAN = (123.68, 116.779, 103.939)  # vgg.py, RGB


def magenta_reference(state: dict[str, Tensor], y: Tensor, x: Tensor, s: Tensor) -> Terms:
    """Magenta image_stylization ``learning.total_loss`` with the training defaults, NHWC."""
    vgg = vgg_sequential(VGG16, state, nn.AvgPool2d)  # vgg_16(pooling='avg')
    taps = {3: "vgg_16/conv1", 8: "vgg_16/conv2", 15: "vgg_16/conv3", 22: "vgg_16/conv4"}

    def vgg_16(inputs: Tensor) -> dict[str, Tensor]:  # NHWC in [0, 1] -> NHWC end points
        inputs = inputs * 255.0 - inputs.new_tensor(MAGENTA_MEAN)
        nchw = run_to(vgg, inputs.permute(0, 3, 1, 2), taps)
        return {k: v.permute(0, 2, 3, 1) for k, v in nchw.items()}

    def gram_matrix(feature_maps: Tensor) -> Tensor:
        batch_size, height, width, channels = feature_maps.shape
        flat = feature_maps.reshape(batch_size, height * width, channels)
        return torch.matmul(flat.transpose(1, 2), flat) / (height * width)

    def nhwc(t: Tensor) -> Tensor:  # their tensors are NHWC
        return t.permute(0, 2, 3, 1)

    end_points, stylized = vgg_16(nhwc(x)), vgg_16(nhwc(y))
    style_grams = {k: gram_matrix(v) for k, v in vgg_16(nhwc(s)).items()}
    ours = {"vgg_16/conv1": "relu1_2", "vgg_16/conv2": "relu2_2", "vgg_16/conv3": "relu3_3",
            "vgg_16/conv4": "relu4_3"}  # fmt: skip
    content = torch.mean((end_points["vgg_16/conv3"] - stylized["vgg_16/conv3"]) ** 2, [1, 2, 3])
    terms = {"content": torch.mean(1.0 * content)}
    for name, layer in ours.items():
        loss = torch.mean((gram_matrix(stylized[name]) - style_grams[name]) ** 2, [1, 2])
        terms[f"style_{layer}"] = torch.mean(1e-4 * loss)
    return terms


def gatys_reference(state: dict[str, Tensor], y: Tensor, x: Tensor, s: Tensor) -> Terms:
    """Gatys, Ecker & Bethge 2016, eqs. 1-7: VGG19 with average pooling, one image."""
    vgg = vgg_sequential(VGG19, state, nn.AvgPool2d)
    taps = {1: "relu1_1", 6: "relu2_1", 11: "relu3_1", 20: "relu4_1", 22: "relu4_2", 29: "relu5_1"}
    mean, std = (y.new_tensor(v).view(1, 3, 1, 1) for v in TORCHVISION)  # the weights' input
    p, a, f = (run_to(vgg, (img - mean) / std, taps) for img in (x, s, y))

    def gram(features: Tensor) -> Tensor:  # G_ij = sum_k F_ik F_jk, unnormalized
        flat = features[0].reshape(features.shape[1], -1)  # (N_l, M_l)
        return flat @ flat.T

    alpha, beta = 1.0, 1e3
    terms = {"content": alpha * 0.5 * ((f["relu4_2"] - p["relu4_2"]) ** 2).sum()}
    for name in ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"):
        n, m = f[name].shape[1], f[name].shape[2] * f[name].shape[3]
        e_l = ((gram(f[name]) - gram(a[name])) ** 2).sum() / (4 * n**2 * m**2)
        terms[f"style_{name}"] = beta * 0.2 * e_l  # w_l = 1/5
    return terms


def tutorial_reference(state: dict[str, Tensor], y: Tensor, x: Tensor, s: Tensor) -> Terms:
    """The PyTorch tutorial's ``get_style_model_and_losses`` + ``run_style_transfer`` loss."""
    cnn = vgg_sequential(VGG19, state, nn.MaxPool2d)
    mean, std = (y.new_tensor(v).view(-1, 1, 1) for v in TORCHVISION)

    def gram_matrix(inp: Tensor) -> Tensor:
        a, b, c, d = inp.size()
        features = inp.view(a * b, c * d)
        return torch.mm(features, features.t()).div(a * b * c * d)

    ours = {"conv_1": "conv1_1", "conv_2": "conv1_2", "conv_3": "conv2_1", "conv_4": "conv2_2",
            "conv_5": "conv3_1"}  # fmt: skip

    def convs(img: Tensor) -> dict[str, Tensor]:
        out, i, h = {}, 0, (img - mean) / std
        for layer in cnn:
            h = layer(h)
            if isinstance(layer, nn.Conv2d):
                i += 1
                out[f"conv_{i}"] = h
            if i == 5:
                return out
        return out

    content_target, style_feats, feats = convs(x)["conv_4"], convs(s), convs(y)
    content_score = F.mse_loss(feats["conv_4"], content_target)
    terms = {"content": 1 * content_score}
    for name, layer in ours.items():
        style_loss = F.mse_loss(gram_matrix(feats[name]), gram_matrix(style_feats[name]))
        terms[f"style_{layer}"] = 1000000 * style_loss
    return terms
