"""Magenta's multi-style checkpoints (Dumoulin, Shlens & Kudlur 2017) as ``johnson_cin`` networks.

Magenta's ``image_stylization`` publishes ``multistyle-pastiche-generator-monet.ckpt`` (10
styles) and ``multistyle-pastiche-generator-varied.ckpt`` (32), TensorFlow V1 checkpoints of
``model.transform``. That network is our :class:`~fastnst.models.TransformerNet` with
``num_styles=S, head="sigmoid"``, term for term (``model.py``, ``ops.py``):

- every convolution is ``slim.conv2d`` after a reflection pad of kernel // 2 (``conv2d``), with
  ``padding='VALID'``, the strided ones included; no bias (slim drops it when a normalizer is
  given), so our biases are zero;
- every convolution, the last one included, is followed by ``conditional_instance_norm``:
  gamma_s (x - mu) / sqrt(var + 1e-5) + beta_s with (S, C) ``gamma`` and ``beta``; their
  ``weighted_instance_norm`` (blends) is sum_s w_s gamma_s, unnormalized, as our ``w @ Gamma``;
- ``residual_block`` is x + CIN(conv(ReLU(CIN(conv(x))))), ``upsampling`` a nearest-neighbour
  2x resize then the convolution, and the output ``sigmoid(CIN(conv9x9(.)))`` (their ``conv3`` is
  an ``upsampling`` by 1: an identity resize);
- pixels are RGB in [0, 1] in and out (``image_utils.load_np_image`` divides by 255).

Weights are HWIO, (k, k, C_in, C_out); ours OIHW. One deviation, in ``TransformerNet``: where H or
W is not a multiple of 4 we reflect-pad the input to one and crop the output back to H x W;
Magenta computes on the unpadded image and returns 4 ceil(H / 4) x 4 ceil(W / 4) pixels.

Reading the file needs TensorFlow's checkpoint reader (``pip install "fastnst[magenta]"``);
:func:`convert_magenta_checkpoint` writes a fastnst checkpoint once, so TensorFlow is never
needed again. Reading a checkpoint runs no code from it: it holds tensors only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from fastnst.errors import FastNSTError
from fastnst.io.atomic import atomic_path
from fastnst.models.checkpoint import PREFIX, checkpoint_entry
from fastnst.models.transformer import TransformerNet

INSTALL_HINT = 'reading Magenta checkpoints needs TensorFlow: pip install "fastnst[magenta]"'
SCOPE = "transformer"
# Magenta's convolution scopes, in the order of our TransformerNet's convolutions.
CONV_SCOPES = (
    ["contract/conv1", "contract/conv2", "contract/conv3"]
    + [f"residual/residual{i}/conv{j}" for i in range(1, 6) for j in (1, 2)]
    + ["expand/conv1/conv", "expand/conv2/conv", "expand/conv3/conv"]
)  # fmt: skip
_NO_TENSORFLOW = 3
_READER = f"""
import sys
import numpy as np
try:
    import tensorflow as tf
except ImportError:
    sys.exit({_NO_TENSORFLOW})
try:
    reader = tf.train.load_checkpoint(sys.argv[1])
    names = sorted(k for k in reader.get_variable_to_shape_map() if k.startswith("{SCOPE}/"))
    arrays = {{f"v{{i}}": np.asarray(reader.get_tensor(k)) for i, k in enumerate(names)}}
except Exception as err:
    sys.exit(type(err).__name__)
np.savez(sys.argv[2], names=np.array(names, dtype=str), **arrays)
"""  # TensorFlow's side of read_magenta_checkpoint, run by a child Python
_OURS = (
    ["net.0", "net.1", "net.2"]
    + [f"net.{b}.block.{j}" for b in range(3, 8) for j in (0, 1)]
    + ["net.8.conv", "net.9.conv", "net.10"]
)  # fmt: skip


def read_magenta_checkpoint(path: str | Path) -> dict[str, np.ndarray]:
    """Every ``transformer/`` variable of a TensorFlow checkpoint (V1 file or V2 prefix).

    TensorFlow runs in a child process that hands the arrays back as an ``.npz`` (read with
    ``allow_pickle=False``): loaded beside torch, TensorFlow 2.21 makes a later ``import
    triton`` (``torch.compile``) crash the process.

    Raises:
        FastNSTError: TensorFlow is not installed, or ``path`` is not a checkpoint it reads.
    """
    path = Path(path).expanduser()
    prefix = path.with_suffix("") if path.suffix == ".index" else path
    if not (path.exists() or prefix.with_name(prefix.name + ".index").exists()):
        raise FastNSTError(f"Magenta checkpoint not found: {path}")
    with tempfile.TemporaryDirectory() as folder:
        arrays = Path(folder) / "variables.npz"
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
        child = subprocess.run(
            [sys.executable, "-c", _READER, str(prefix), str(arrays)],
            capture_output=True, text=True, env=env,
        )  # fmt: skip
        if child.returncode == _NO_TENSORFLOW:
            raise FastNSTError(INSTALL_HINT)
        if child.returncode != 0:
            reason = (child.stderr.strip().splitlines() or [f"exit {child.returncode}"])[-1]
            raise FastNSTError(
                f"{path} is not a checkpoint TensorFlow can read ({reason}); pass a Magenta "
                ".ckpt such as multistyle-pastiche-generator-monet.ckpt"
            )
        with np.load(arrays, allow_pickle=False) as data:
            names = [str(name) for name in data["names"]]
            return {name: data[f"v{i}"] for i, name in enumerate(names)}


def _get(variables: Mapping[str, np.ndarray], name: str, path: str | Path) -> np.ndarray:
    if name not in variables:
        raise FastNSTError(
            f"{path}: no variable {name}; expected a Magenta image_stylization transform "
            "checkpoint (model.transform with conditional instance norm)"
        )
    return np.asarray(variables[name], dtype=np.float32)


def from_magenta_variables(
    variables: Mapping[str, np.ndarray], path: str | Path = "<variables>"
) -> TransformerNet:
    """Our ``TransformerNet`` (eval mode) computing Magenta's ``model.transform``.

    The widths (their ``alpha``) and the number of styles S are read from the shapes; every
    variable's shape is then checked against that network.

    Raises:
        FastNSTError: A variable is missing or has the wrong shape (named), or S = 1.
    """
    widths = [_get(variables, f"{SCOPE}/{s}/weights", path).shape[-1] for s in CONV_SCOPES]
    gamma = _get(variables, f"{SCOPE}/{CONV_SCOPES[0]}/InstanceNorm/gamma", path)
    num_styles = gamma.shape[0] if gamma.ndim == 2 else 0
    if num_styles < 2:
        raise FastNSTError(
            f"{path}: {SCOPE}/{CONV_SCOPES[0]}/InstanceNorm/gamma has shape {gamma.shape}; "
            "only checkpoints of 2 or more styles map onto johnson_cin (its single-style "
            "network has no norm after the last convolution)"
        )
    encoder, decoder, w = widths[:3], widths[-3:-1], widths[0]
    if encoder == [w, 2 * w, 4 * w] and decoder == [2 * w, w]:  # alpha * (32, 64, 128), as ours
        model = TransformerNet(width=w, num_styles=num_styles, head="sigmoid")
    else:
        model = TransformerNet(
            num_styles=num_styles, head="sigmoid", encoder=encoder, decoder=decoder
        )
    state = model.state_dict()
    ours: dict[str, torch.Tensor] = {}
    for theirs, prefix in zip(CONV_SCOPES, _OURS, strict=True):
        pairs = [(f"{prefix}.1.weight", "weights", (3, 2, 0, 1))]  # HWIO -> OIHW
        pairs += [(f"{prefix}.2.{p}", f"InstanceNorm/{p}", None) for p in ("gamma", "beta")]
        for key, name, permutation in pairs:
            array = _get(variables, f"{SCOPE}/{theirs}/{name}", path)
            value = torch.from_numpy(array.transpose(permutation) if permutation else array)
            if value.shape != state[key].shape:
                expected = tuple(state[key].shape)
                if permutation:
                    expected = tuple(expected[i] for i in (2, 3, 1, 0))  # OIHW -> HWIO
                raise FastNSTError(
                    f"{path}: {SCOPE}/{theirs}/{name} has shape {array.shape}, expected "
                    f"{expected} for a {num_styles}-style Magenta transform of widths "
                    f"{encoder + decoder}"
                )
            ours[key] = value.contiguous()
        ours[f"{prefix}.1.bias"] = torch.zeros_like(state[f"{prefix}.1.bias"])  # slim: no bias
    model.load_state_dict(ours)
    return model.eval()


def convert_magenta_checkpoint(
    source: str | Path, output: str | Path, *, styles: Sequence[str] | None = None,
    overwrite: bool = False,
) -> Path:  # fmt: skip
    """Convert a Magenta ``.ckpt`` into a fastnst checkpoint ``load_style_checkpoint`` loads.

    Args:
        source: The TensorFlow checkpoint (V1 file, or V2 prefix / ``.index`` file).
        output: The fastnst checkpoint to write (atomically).
        styles: One name per style; default ``style_00``, ``style_01``, ... (Magenta's
            checkpoints hold no names; its README lists none for Monet or Varied).
        overwrite: Replace ``output`` if it exists.

    Raises:
        FastNSTError: ``output`` exists, TensorFlow is missing, or the file does not map.
    """
    output = Path(output).expanduser()
    if output.exists() and not overwrite:
        raise FastNSTError(f"output exists: {output}; pass --overwrite to replace it")
    model = from_magenta_variables(read_magenta_checkpoint(source), source)
    names = list(styles) if styles else [f"style_{i:02d}" for i in range(model.num_styles)]
    if len(names) != model.num_styles or len(set(names)) != len(names):
        raise FastNSTError(
            f"{source} holds {model.num_styles} styles; give as many distinct names, "
            f"got {len(names)}"
        )
    config = {"converted_from": {"reference": "magenta/image_stylization",
                                 "file": Path(source).name}}  # fmt: skip
    checkpoint = {
        "fastnst": checkpoint_entry(model, names, config),
        "state_dict": {PREFIX + key: value for key, value in model.state_dict().items()},
    }
    with atomic_path(output, overwrite=overwrite) as tmp:
        torch.save(checkpoint, tmp)
    return output
