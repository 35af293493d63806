"""torch.hub entry points: every catalogue model (``fastnst models`` lists them).

    import torch
    net = torch.hub.load("path/to/fastnst", "candy", source="local")   # or "owner/fastnst"
    out = net(x)            # x: (N, 3, H, W) RGB in [0, 1] -> stylized, same range

Each entry returns the transform network (eval mode) from
:func:`fastnst.models.checkpoint.load_style_checkpoint`, fetched once into ``$FASTNST_CACHE``
by :func:`fastnst.io.pretrained.resolve_model` (the resolver every entry point uses). For PIL
images, sizes, blends and paintings use ``fastnst.Stylizer.from_pretrained(name, ...)``.
Pass ``accept_license=True`` for the models whose licence forbids commercial use.
"""

from __future__ import annotations

import sys
from pathlib import Path

_SRC = Path(__file__).resolve().parent / "src"
if _SRC.is_dir() and str(_SRC) not in sys.path:  # a checkout without pip install
    sys.path.insert(0, str(_SRC))

from fastnst.models.catalog import load_catalog  # noqa: E402

dependencies = ["torch", "pooch"]


def _entry(name: str, doc: str):
    def load(accept_license: bool = False):
        from fastnst.io.pretrained import resolve_model
        from fastnst.models.checkpoint import load_style_checkpoint

        return load_style_checkpoint(resolve_model(name, accept_license=accept_license)).model

    load.__name__ = load.__qualname__ = name
    load.__doc__ = doc
    return load


for _name, _model in load_catalog().items():
    globals()[_name] = _entry(
        _name, f"{_model.title}: {_model.kind_words}; {_model.reference}; "
        f"licence {_model.license.name}."
    )  # fmt: skip
