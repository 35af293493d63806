"""Magenta's multi-style checkpoints convert onto johnson_cin and compute what Magenta computes.

Two references, written independently from magenta/models/image_stylization/model.py and ops.py
(``transform``, ``conv2d``, ``upsampling``, ``residual_block``, ``conditional_instance_norm``,
``weighted_instance_norm``): NumPy in float64 (runs everywhere), and TensorFlow's own ops, whose
variables are saved by ``tf.compat.v1.train.Saver`` in the V1 format of the published files
(skips without TensorFlow). Variable names and shapes are those Magenta's ``model.transform``
creates (listed by running it under tf_slim): no conv biases, (S, C) gamma/beta.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from numpy.lib.stride_tricks import sliding_window_view

from fastnst import FastNSTError
from fastnst.app.main import main
from fastnst.models.checkpoint import load_style_checkpoint
from fastnst.models.interop.magenta import INSTALL_HINT, from_magenta_variables

NUM_STYLES = 3
EPS = 1e-5  # ops.py: variance_epsilon = 1E-5
# fp32 against float64: each of the 16 conv + instance-norm layers adds about sqrt(n) unit
# roundoffs (2^-24) relative to its O(1) normalized output, n <= 9 * 9 * 32 taps; the sigmoid's
# slope is <= 1/4, dropped here as margin.
FP32_BOUND = 16 * np.sqrt(9 * 9 * 32) * 2.0**-24
SIZES = [(36, 44), (33, 39)]  # multiples of 4 (odd 9 x 11 bottleneck); odd
STYLE_SETTINGS = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.6, 0.0, 0.7]]  # unnormalized, as theirs


def magenta_layers(alpha: float) -> list[tuple[str, int, int, int]]:
    """(scope, kernel, C_in, C_out) of every convolution of ``model.transform``."""
    c1, c2, c3 = int(alpha * 32), int(alpha * 64), int(alpha * 128)
    residual = [(f"residual/residual{i}/conv{j}", 3, c3, c3) for i in range(1, 6) for j in (1, 2)]
    return [
        ("contract/conv1", 9, 3, c1), ("contract/conv2", 3, c1, c2),
        ("contract/conv3", 3, c2, c3), *residual, ("expand/conv1/conv", 3, c3, c2),
        ("expand/conv2/conv", 3, c2, c1), ("expand/conv3/conv", 9, c1, 3),
    ]  # fmt: skip


def magenta_variables(alpha: float = 1.0, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    variables = {}
    for scope, k, cin, cout in magenta_layers(alpha):
        name = f"transformer/{scope}"
        variables[f"{name}/weights"] = rng.normal(0, (k * k * cin) ** -0.5, (k, k, cin, cout))
        variables[f"{name}/InstanceNorm/gamma"] = 1 + 0.3 * rng.normal(size=(NUM_STYLES, cout))
        variables[f"{name}/InstanceNorm/beta"] = 0.3 * rng.normal(size=(NUM_STYLES, cout))
    return {name: value.astype(np.float32) for name, value in variables.items()}


def numpy_transform(v: dict[str, np.ndarray], x: np.ndarray, mix: np.ndarray) -> np.ndarray:
    """model.transform in float64: x (B, H, W, 3) in [0, 1], mix (B, S) style weights."""

    def layer(h: np.ndarray, scope: str, stride: int = 1, relu: bool = True) -> np.ndarray:
        w = v[f"transformer/{scope}/weights"].astype(np.float64)
        p = w.shape[0] // 2  # conv2d: tf.pad REFLECT by kernel // 2, then VALID
        h = np.pad(h, ((0, 0), (p, p), (p, p), (0, 0)), mode="reflect")
        windows = sliding_window_view(h, w.shape[:2], axis=(1, 2))[:, ::stride, ::stride]
        h = np.einsum("bhwcij,ijco->bhwo", windows, w)
        gamma = mix @ v[f"transformer/{scope}/InstanceNorm/gamma"]  # weighted_instance_norm
        beta = mix @ v[f"transformer/{scope}/InstanceNorm/beta"]
        mean, var = h.mean((1, 2), keepdims=True), h.var((1, 2), keepdims=True)
        h = (h - mean) / np.sqrt(var + EPS) * gamma[:, None, None] + beta[:, None, None]
        return np.maximum(h, 0) if relu else h

    h = layer(x.astype(np.float64), "contract/conv1")
    h = layer(layer(h, "contract/conv2", 2), "contract/conv3", 2)
    for i in range(1, 6):
        scope = f"residual/residual{i}"
        h = h + layer(layer(h, f"{scope}/conv1"), f"{scope}/conv2", relu=False)
    for scope in ("expand/conv1/conv", "expand/conv2/conv"):  # resize_nearest_neighbor 2x
        h = layer(h.repeat(2, axis=1).repeat(2, axis=2), scope)
    return 1 / (1 + np.exp(-layer(h, "expand/conv3/conv", relu=False)))


def pad_to_4(x: np.ndarray) -> np.ndarray:
    """TransformerNet's input padding: reflect at the bottom/right to a multiple of 4."""
    h, w = x.shape[1:3]
    return np.pad(x, ((0, 0), (0, -h % 4), (0, -w % 4), (0, 0)), mode="reflect")


def ours(model: torch.nn.Module, x: np.ndarray, mix: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        out = model(torch.from_numpy(x).permute(0, 3, 1, 2), torch.from_numpy(mix).float())
    return out.permute(0, 2, 3, 1).double().numpy()


def batch(size: tuple[int, int], seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The same photo once per style setting, with (B, S) mix weights."""
    photo = np.random.default_rng(seed).random((1, *size, 3), dtype=np.float32)
    mix = np.array(STYLE_SETTINGS, dtype=np.float64)
    return np.repeat(photo, len(mix), axis=0), mix


@pytest.mark.parametrize("alpha", [1.0, 0.3])  # 0.3: widths 9, 19, 38, not ours 1:2:4
def test_variables_compute_magentas_transform(alpha: float) -> None:
    variables = magenta_variables(alpha)
    model = from_magenta_variables(variables, "monet.ckpt")
    assert (model.num_styles, model.head) == (NUM_STYLES, "sigmoid")
    assert ("encoder" in model.config) == (alpha != 1.0)
    x, mix = batch((36, 44))  # multiples of 4; the bottleneck is 9 x 11, odd
    np.testing.assert_allclose(ours(model, x, mix), numpy_transform(variables, x, mix),
                               rtol=0, atol=FP32_BOUND)  # fmt: skip
    x, mix = batch((33, 39))  # Magenta returns 36 x 40 here; we pad to that, then crop back
    assert numpy_transform(variables, x[:1], mix[:1]).shape == (1, 36, 40, 3)
    reference = numpy_transform(variables, pad_to_4(x), mix)[:, :33, :39]
    np.testing.assert_allclose(ours(model, x, mix), reference, rtol=0, atol=FP32_BOUND)


@pytest.mark.parametrize(
    ("name", "value", "found"),
    [
        ("transformer/residual/residual3/conv2/weights", None, "no variable"),
        ("transformer/expand/conv2/conv/InstanceNorm/beta", np.zeros((3, 31)), "(3, 31)"),
        ("transformer/contract/conv2/weights", np.zeros((3, 3, 31, 64)), "(3, 3, 31, 64)"),
        ("transformer/contract/conv1/InstanceNorm/gamma", np.ones((1, 32)), "2 or more styles"),
    ],
)
def test_bad_variables_are_named_in_one_line(name: str, value: np.ndarray | None, found: str):
    variables = magenta_variables()
    if value is None:
        del variables[name]
    else:
        variables[name] = value
    with pytest.raises(FastNSTError) as info:
        from_magenta_variables(variables, "varied.ckpt")
    message = str(info.value)
    assert message.startswith("varied.ckpt: ") and name in message and found in message
    assert "\n" not in message


def test_without_tensorflow_one_line(tmp_path, monkeypatch) -> None:
    fake = tmp_path / "site" / "tensorflow"  # shadows a real TensorFlow in the reader's child
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named tensorflow')\n")
    monkeypatch.setenv("PYTHONPATH", str(fake.parent))
    (tmp_path / "monet.ckpt").write_bytes(b"\0" * 16)
    with pytest.raises(SystemExit) as info:
        main(["convert-magenta", str(tmp_path / "monet.ckpt"), str(tmp_path / "monet.pt")])
    assert info.value.code == f"error: {INSTALL_HINT}"
    assert 'pip install "fastnst[magenta]"' in INSTALL_HINT
    assert not (tmp_path / "monet.pt").exists()


def tf_transform(tf, v: dict, x, mix):
    """model.transform with TensorFlow's ops (graph mode); v: name -> tf.Variable."""
    tf1 = tf.compat.v1

    def layer(h, scope: str, stride: int = 1, relu: bool = True):
        w = v[f"transformer/{scope}/weights"]
        p = int(w.shape[0]) // 2
        h = tf.pad(h, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT")
        h = tf.nn.conv2d(h, w, strides=[1, stride, stride, 1], padding="VALID")
        gamma = tf.matmul(mix, v[f"transformer/{scope}/InstanceNorm/gamma"])[:, None, None]
        beta = tf.matmul(mix, v[f"transformer/{scope}/InstanceNorm/beta"])[:, None, None]
        mean, var = tf.nn.moments(h, [1, 2], keepdims=True)
        h = tf.nn.batch_normalization(h, mean, var, beta, gamma, EPS)
        return tf.nn.relu(h) if relu else h

    h = layer(layer(layer(x, "contract/conv1"), "contract/conv2", 2), "contract/conv3", 2)
    for i in range(1, 6):
        h = h + layer(layer(h, f"residual/residual{i}/conv1"), f"residual/residual{i}/conv2",
                      relu=False)  # fmt: skip
    for scope in ("expand/conv1/conv", "expand/conv2/conv"):
        shape = tf.shape(h)
        h = layer(tf1.image.resize_nearest_neighbor(h, [2 * shape[1], 2 * shape[2]]), scope)
    return tf.sigmoid(layer(h, "expand/conv3/conv", relu=False))


def write_tensorflow_reference(folder: str) -> None:
    """In a child process: monet.ckpt (V1, as published), v2/model (V2) and TF's outputs."""
    import tensorflow as tf

    tf1, folder_path = tf.compat.v1, Path(folder)
    with tf.Graph().as_default(), tf1.Session() as session:
        v = {k: tf1.Variable(value, name=k) for k, value in magenta_variables(seed=5).items()}
        x = tf1.placeholder(tf.float32, (None, None, None, 3))
        mix = tf1.placeholder(tf.float32, (None, NUM_STYLES))
        y = tf_transform(tf, v, x, mix)
        session.run(tf1.global_variables_initializer())
        saver = tf1.train.Saver(write_version=tf1.train.SaverDef.V1)
        saver.save(session, str(folder_path / "monet.ckpt"), write_meta_graph=False)
        tf1.train.Saver().save(session, str(folder_path / "v2" / "model"), write_meta_graph=False)
        outputs = {}
        for h, w in SIZES:
            photo, weights = batch((h, w))
            outputs[f"{h}x{w}"] = session.run(y, {x: pad_to_4(photo), mix: weights})
    np.savez(folder_path / "expected.npz", **outputs)


def test_tensorflow_v1_checkpoint_converts(tmp_path) -> None:
    # find_spec, not importorskip: TensorFlow must stay out of this process (beside torch, it
    # makes a later `import triton` crash), so it runs in a child, as the converter's reader
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("TensorFlow is not installed (pip install \"fastnst[magenta]\")")
    code = "import sys; from test_interop_magenta import *; write_tensorflow_reference(sys.argv[1])"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent), "TF_CPP_MIN_LOG_LEVEL": "2"}
    child = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env,
                           capture_output=True, text=True)  # fmt: skip
    assert child.returncode == 0, child.stderr[-2000:]
    expected = np.load(tmp_path / "expected.npz")
    out = tmp_path / "monet.pt"
    main(["convert-magenta", str(tmp_path / "monet.ckpt"), str(out)])
    loaded = load_style_checkpoint(out)
    assert loaded.styles == ["style_00", "style_01", "style_02"]
    assert loaded.model.config == {"width": 32, "num_residual_blocks": 5, "head": "sigmoid",
                                   "num_styles": NUM_STYLES}  # fmt: skip
    for h, w in SIZES:  # TF ran on the input padded to multiples of 4, as we do; crop alike
        photo, weights = batch((h, w))
        np.testing.assert_allclose(ours(loaded.model, photo, weights),
                                   expected[f"{h}x{w}"][:, :h, :w], rtol=0, atol=FP32_BOUND)
    with pytest.raises(SystemExit) as info:  # never overwritten by accident
        main(["convert-magenta", str(tmp_path / "monet.ckpt"), str(out)])
    assert "--overwrite" in str(info.value.code)
    main(["convert-magenta", str(tmp_path / "v2" / "model"), str(out), "--overwrite",
          "--styles", "a,b,c"])  # fmt: skip
    again = load_style_checkpoint(out)
    assert again.styles == ["a", "b", "c"]
    for key, value in loaded.model.state_dict().items():
        assert torch.equal(value, again.model.state_dict()[key]), key
    with pytest.raises(FastNSTError, match="TensorFlow checkpoint; convert .*convert-magenta"):
        load_style_checkpoint(tmp_path / "monet.ckpt")  # handed to stylize unconverted
