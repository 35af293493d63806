"""Adding styles to a trained multi-style network (Dumoulin, Shlens & Kudlur 2017, sec. 4.3).

The convolutions of a conditional-instance-norm network are shared by every style, so a new
painting needs only its own gamma/beta rows: copy the trained network into one with more rows,
freeze everything but the new rows, and train as usual. The old styles come out bit for bit.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from fastnst.errors import FastNSTError
from fastnst.models import build_model
from fastnst.models.layers import ConditionalInstanceNorm2d


def extend_styles(
    source: nn.Module, source_styles: list[str], styles: list[str]
) -> tuple[nn.Module, list[int]]:
    """A copy of ``source`` holding ``styles``, which must begin with ``source_styles``.

    Shared weights and the old styles' gamma/beta rows are copied; the new rows start at the
    identity (gamma 1, beta 0).

    Returns:
        The new network (train mode) and the style indices of the new paintings.

    Raises:
        FastNSTError: ``styles`` does not begin with the checkpoint's styles, or adds none.
    """
    old = len(source_styles)
    if styles[:old] != source_styles or len(styles) == old:
        raise FastNSTError(
            f"styles= must list the init_from checkpoint's styles {source_styles} first, then "
            f"at least one new painting; got {styles}"
        )
    args = {**source.config, "num_styles": len(styles)}
    model = build_model(getattr(source, "arch", "johnson"), **args)
    state = model.state_dict()
    for key, value in source.state_dict().items():
        if key.endswith((".gamma", ".beta")) and key in state:
            state[key][:old] = value
        elif key in state and state[key].shape == value.shape:
            state[key] = value
        else:
            raise FastNSTError(
                f"init_from: parameter {key} does not fit a multi-style network; pass a "
                "checkpoint trained with model=johnson_cin"
            )
    model.load_state_dict(state)
    return model.train(), list(range(old, len(styles)))


def train_only_styles(
    model: nn.Module, indices: list[int]
) -> list[torch.utils.hooks.RemovableHandle]:
    """Freeze ``model`` except the gamma/beta rows ``indices`` of its conditional norms.

    Every other parameter gets ``requires_grad=False``; gamma and beta keep gradients only in
    the chosen rows (a hook zeroes the rest), so Adam, whose moments then stay 0, never moves
    the other rows.

    Returns:
        The hook handles (``handle.remove()`` undoes the row masks).
    """
    norms = [m for m in model.modules() if isinstance(m, ConditionalInstanceNorm2d)]
    if not norms:
        raise FastNSTError("init_from needs a multi-style network (model=johnson_cin)")
    model.requires_grad_(False)
    handles = []
    for norm in norms:
        mask = torch.zeros(norm.gamma.shape[0], 1)
        mask[indices] = 1.0
        for param in (norm.gamma, norm.beta):
            param.requires_grad_(True)
            handles.append(param.register_hook(_masked(mask)))
    return handles


def _masked(mask: Tensor):
    """A gradient hook keeping only the rows where ``mask`` is 1."""
    return lambda grad: grad * mask.to(grad.device, grad.dtype)
