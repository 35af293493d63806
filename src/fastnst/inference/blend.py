"""A style choice of a multi-style network as its (S,) weight vector.

A network with conditional instance norm (Dumoulin, Shlens & Kudlur 2017) takes, per image, a
weight per style: w = e_k picks painting k, a convex mixture w = sum_k a_k e_k (a_k >= 0,
sum a_k = 1) blends them by mixing every norm's scale and shift, gamma = w @ Gamma and
beta = w @ Beta (their sec. 4.2). Blend weights are normalised to sum to 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from fastnst.errors import FastNSTError

StyleChoice = str | int | Mapping[str, float] | Tensor | None


def style_vector(style: StyleChoice, names: Sequence[str]) -> Tensor | None:
    """The (S,) float weights of ``style`` for a network holding the styles ``names``.

    Args:
        style: A style name, a style index, ``{name: weight}`` (a blend; weights >= 0,
            normalised to sum to 1), an (S,) tensor (used as it is), or ``None``: no choice,
            valid only for a single-style network (returns ``None``).
        names: The network's style names, in style-index order.

    Raises:
        FastNSTError: An unknown name (the message lists the network's styles), a negative or
            all-zero blend, or no choice for a multi-style network.
    """
    count = len(names)
    if isinstance(style, Tensor):
        if style.shape != (count,):
            raise FastNSTError(f"style weights need shape ({count},), got {tuple(style.shape)}")
        return style.float()
    if style is None:
        if count > 1:
            raise FastNSTError(
                f"this network holds {count} styles ({', '.join(names)}): pass style=NAME "
                "or a blend, e.g. style={" + f"{names[0]}: 0.5, {names[1]}: 0.5" + "}"
            )
        return None
    blend = dict(style) if isinstance(style, Mapping) else {style: 1.0}
    weights = torch.zeros(count)
    for key, value in blend.items():
        weights[_index(key, names)] += float(value)
    if (weights < 0).any() or float(weights.sum()) <= 0:
        raise FastNSTError(f"style blend {blend} needs weights >= 0 that do not sum to 0")
    return None if count == 1 else weights / weights.sum()


def _index(key: str | int, names: Sequence[str]) -> int:
    """The index of style ``key`` (a name, or an index as int or digits)."""
    if key in names:
        return list(names).index(key)
    digits = isinstance(key, int) or (isinstance(key, str) and key.isdigit())
    if digits and 0 <= int(key) < len(names):
        return int(key)
    raise FastNSTError(f"unknown style {key!r}; this network holds: {', '.join(names)}")


def parse_style_words(words: Sequence[str] | None) -> str | dict[str, float] | None:
    """``fastnst stylize --style`` values as a style choice: ``["great_wave"]`` is a name;
    ``["starry_night=0.7,great_wave=0.3"]`` or ``["starry_night=0.7", "great_wave=0.3"]`` a blend.

    Raises:
        FastNSTError: A blend entry without ``=`` or with a weight that is not a number.
    """
    if not words:
        return None
    items = [item.strip() for word in words for item in word.split(",") if item.strip()]
    if len(items) == 1 and "=" not in items[0]:
        return items[0]
    blend: dict[str, float] = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            blend[name.strip()] = float(value)
        except ValueError as err:
            raise FastNSTError(
                f"--style {item!r}: write a blend as NAME=WEIGHT,... "
                "(starry_night=0.7,great_wave=0.3)"
            ) from err
    return blend
