"""Flow-guided video stylizing: blend the previous stylized frame, carried along the input's
optical flow, into the current one where that flow is reliable.

    O_t = S_t + a M_t (W(O_{t-1}) - S_t),   W(O_{t-1}) = warp(O_{t-1}, f_{t->t-1})

with S_t the per-frame network's output, f_{t->t-1} the DIS flow of the input from frame t to
frame t-1 (on frame t's grid), M_t its non-occluded mask (forward-backward check and motion
boundaries, :func:`~fastnst.flow.warp.non_occluded`) and a the blend strength. The recursion
carries the stylization of earlier frames along the motion, in the spirit of the short-term
consistency of Ruder et al. 2016/2018, but as a post-process of a feed-forward network (no
optimization); newly visible pixels (M_t = 0) take the network's output as it is.

Cost per frame: two DIS flows of the input (both directions) plus one ``grid_sample`` of the
output, on the CPU, whatever device runs the network (``scripts/video_consistency.py`` reports
the measured time).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from fastnst.errors import FastNSTError
from fastnst.flow.dis import DISFlow, to_gray
from fastnst.flow.warp import non_occluded, warp


class FlowBlend:
    """Stateful per-clip blender: call it on each frame in order; ``reset()`` between clips.

    Args:
        strength: a in [0, 1): the weight of the warped previous output where flow is reliable.
            0 is the per-frame network; values near 1 keep strokes for long (and smear errors).
        preset: DIS preset, ``"ultrafast"``, ``"fast"`` or ``"medium"``.

    Raises:
        FastNSTError: ``strength`` outside [0, 1), an unknown preset, or OpenCV missing.
    """

    def __init__(self, strength: float = 0.5, preset: str = "fast") -> None:
        if not 0 <= strength < 1:
            raise FastNSTError(f"flow_blend={strength} must be in [0, 1), e.g. 0.5")
        self.strength = float(strength)
        self.flow = DISFlow(preset)
        self.reset()

    def reset(self) -> None:
        """Forget the previous frame (start of a new clip)."""
        self._gray = None
        self._output: Tensor | None = None

    def __call__(self, content: Tensor, styled: Tensor) -> Tensor:
        """O_t for the input frame ``content`` and its per-frame output ``styled``.

        Args:
            content: (1, 3, h, w) RGB in [0, 1], any size (resized to ``styled``'s for the flow).
            styled: (1, 3, H, W) the network's output for it.

        Returns:
            (1, 3, H, W), on ``styled``'s device and dtype.
        """
        if content.shape[-2:] != styled.shape[-2:]:
            content = F.interpolate(content.float(), size=styled.shape[-2:], mode="bilinear",
                                    antialias=True, align_corners=False)  # fmt: skip
        gray = to_gray(content)
        out = styled
        if self._output is not None and self._output.shape == styled.shape:
            to_prev, to_cur = self.flow.gray(gray, self._gray), self.flow.gray(self._gray, gray)
            mask = non_occluded(to_prev, to_cur).to(styled.device)
            carried = warp(self._output, to_prev.to(styled))
            out = styled + self.strength * mask * (carried - styled)
        self._gray, self._output = gray, out.detach()
        return out
