"""Which stylize options apply to which kind of network; the others are one line naming what does.

- ``style=`` (a name or a blend): multi-style networks; a per-style network takes its own
  name; an arbitrary-style network (AdaIN, style prediction) takes ``style_image=`` instead.
- ``strip=``: multi-style networks; arbitrary-style ones blend paintings with
  ``style_image=[a,b] style_image_weights=[...]``.
- ``style_image=``, ``style_image_weights=``, ``alpha=`` below 1: arbitrary-style networks
  (the checks against networks with built-in styles live with the painting binding in
  :mod:`fastnst.inference.arbitrary`); the weights need paintings to weigh.
- ``export=`` writes the network alone: no ``input=``, ``style=``, paintings, sheets, strips.

``strength=`` (blending with the photo), sizes, tiles and colour options apply to every kind.
"""

from __future__ import annotations

from typing import Any

from fastnst.errors import FastNSTError

PAINTING_BLEND = "style_image=[a.jpg,b.jpg] style_image_weights=[0.7,0.3]"
STYLIZING_ONLY = ("input", "style", "style_image", "style_image_weights", "sheet", "strip",
                  "flow_blend")  # fmt: skip


def check_choice_options(arbitrary: bool, *, style: Any, style_image: Any, weights: Any) -> None:
    """``style=`` and ``style_image_weights=`` against the kind of network.

    Args:
        arbitrary: Whether the network takes a painting as an input.
        style: The ``style=`` choice (a name or blend), or None.
        style_image: The painting(s), or None. weights: ``style_image_weights``, or None.
    """
    if arbitrary and style is not None:
        raise FastNSTError(
            f"style={style} picks a style of a multi-style network; this arbitrary-style "
            f"network takes paintings: pass style_image=painting.jpg (to blend: {PAINTING_BLEND})"
        )
    if weights is not None and style_image is None:
        raise FastNSTError(
            f"style_image_weights= weighs the paintings of style_image=, and none is given: "
            f"pass both ({PAINTING_BLEND}) to an arbitrary-style network, or drop the weights"
        )


def check_strip(style_image: Any) -> None:
    """``strip=`` blends two styles of a multi-style network, never paintings."""
    if style_image is not None:
        raise FastNSTError(
            "strip= blends two styles of a multi-style network (model=johnson_cin); an "
            f"arbitrary-style network blends paintings: {PAINTING_BLEND}"
        )


def check_export_options(options: dict[str, Any]) -> None:
    """``export=`` writes the network alone: options of a stylizing run are refused."""
    given = [key for key in STYLIZING_ONLY if options.get(key) not in (None, False)]
    if given:
        raise FastNSTError(
            f"export= writes the network alone; {', '.join(f'{k}=' for k in given)} apply when "
            "stylizing: drop them, or drop export= to stylize"
        )
