"""pytorch-AdaIN's published ``decoder.pth`` and ``vgg_normalised.pth`` as an AdaIN model.

naoto0804/pytorch-AdaIN publishes two state dicts of ``nn.Sequential`` modules of its ``net.py``
(release v0.0.0): ``decoder.pth`` (``net.decoder``: convolutions at indices 1, 5, 8, 11, 14,
18, 21, 25, 28) and ``vgg_normalised.pth`` (``net.vgg``, 53 modules, cut at 31 = relu4_1).
They load, key for key, into :class:`~fastnst.models.adain.AdaINNet` with
``encoder="vgg_normalised"`` and ``unbiased=True``, which then computes what their ``test.py``
``style_transfer`` computes (``tests/test_adain_reference.py``), at any size of at least 9 px
(theirs at every size where it is defined; ours crops its output to the photo's size).

``load_style_checkpoint("decoder.pth")`` looks for the encoder beside the decoder, as
``vgg_normalised.pth`` (their code's name) or ``vgg_normalized.pth`` (their README's).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import Tensor

from fastnst.errors import FastNSTError
from fastnst.models.adain import AdaINNet
from fastnst.models.interop import Published
from fastnst.models.vgg_normalised import URL

_FIRST_DECODER_KEY = "1.weight"  # conv 512 -> 256 after the first reflection pad
ENCODER_NAMES = ("vgg_normalised.pth", "vgg_normalized.pth")
SOURCE = "naoto0804/pytorch-AdaIN"
DECODER_URL = "https://github.com/naoto0804/pytorch-AdaIN/releases/download/v0.0.0/decoder.pth"


def is_adain_decoder_state_dict(obj: Any) -> bool:
    """Whether ``obj`` looks like pytorch-AdaIN's ``decoder.pth`` (an ``nn.Sequential``'s)."""
    first = obj.get(_FIRST_DECODER_KEY) if isinstance(obj, dict) else None
    return isinstance(first, Tensor) and tuple(first.shape) == (256, 512, 3, 3)


def encoder_path(decoder: Path) -> Path:
    """The ``vgg_normalised.pth`` beside ``decoder``.

    Raises:
        FastNSTError: Neither spelling is there; says where to put the file and where it is.
    """
    for name in ENCODER_NAMES:
        if (decoder.parent / name).is_file():
            return decoder.parent / name
    raise FastNSTError(
        f"{decoder} is pytorch-AdaIN's decoder.pth; its encoder must lie beside it as "
        f"{decoder.parent / ENCODER_NAMES[0]}: download it from {URL}"
    )


def load_adain_reference(path: Path, state: dict[str, Tensor]) -> Published:
    """``decoder.pth`` (already read into ``state``) and the ``vgg_normalised.pth`` beside it.

    Raises:
        FastNSTError: A file's keys or shapes are not theirs (one line naming the file, the
            format expected and what was found), or the encoder file is not beside the decoder.
    """
    model = AdaINNet(encoder="vgg_normalised", unbiased=True)
    expected = {key: tuple(value.shape) for key, value in model.decoder.state_dict().items()}
    found = {key: tuple(v.shape) for key, v in state.items() if isinstance(v, Tensor)}
    if found != expected:
        wrong = sorted(set(expected) ^ set(found)) or [
            key for key in expected if found[key] != expected[key]
        ]
        key = wrong[0]
        raise FastNSTError(
            f"{path} is not pytorch-AdaIN's decoder.pth (their net.decoder's state dict, "
            f"{len(expected)} tensors): {key} is {found.get(key, 'missing')}, expected "
            f"{expected.get(key, 'no such key')}; pass the file from {DECODER_URL}"
        )
    model.decoder.load_state_dict({key: value.float() for key, value in state.items()})
    model.encoder.load_vgg(str(encoder_path(path)))
    return Published(model.eval(), [], SOURCE)
