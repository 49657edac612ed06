"""Rendering shared by the single-market environments, per ``render_mode``:

* ``None``: nothing (``render()`` warns and returns ``None``, as Gymnasium specifies);
* ``"ansi"``: the episode's state as one line of text: decision, time left, inventory
  (shares), last fill (currency) and spread;
* ``"rgb_array"``: the same state as a small ``(64, 256, 3)`` uint8 picture, two bars (time
  elapsed, blue; shares executed, green), so that video recorders (CleanRL's
  ``--capture-video``, RL Zoo's ``record_video``, SB3's ``make_vec_env`` default) work.

The vector environments do not render: they accept ``render_mode=None`` only.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from gymnasium import logger

__all__ = ["RENDER_METADATA", "RENDER_MODES", "RenderMixin", "ansi_line", "bars_image", "check_render_mode"]

#: the render modes of the single environments
RENDER_MODES = ("ansi", "rgb_array")
#: their ``metadata`` (fps: what a video of the rendered decisions plays at)
RENDER_METADATA = {"render_modes": list(RENDER_MODES), "render_fps": 4}
_BAR_COLOURS = (np.array([66, 133, 244], np.uint8), np.array([52, 168, 83], np.uint8))


def check_render_mode(render_mode: Any, allowed: tuple[str, ...] = RENDER_MODES) -> str | None:
    """``render_mode`` if it is ``None`` or one of ``allowed``, else a ``ValueError`` naming it."""
    if render_mode is None or (isinstance(render_mode, str) and render_mode in allowed):
        return render_mode
    if not allowed:
        raise ValueError(f"render_mode must be None (this environment does not render; the single-market "
                         f"environments render {list(RENDER_MODES)}), got {render_mode!r}")
    raise ValueError(f"render_mode must be None or one of {list(allowed)}, got {render_mode!r}")


def ansi_line(*, step: int | None, n_steps: int, time_left: str, holdings_shares: float, total_shares: float,
              side: str, last_fill: float, spread: str) -> str:
    """One line: decision, time left, inventory (shares), last fill (currency) and spread."""
    if step is None:
        return f"not reset | {side} {total_shares:,.0f} shares over {n_steps} decisions"
    fill = "none" if not math.isfinite(last_fill) else f"{last_fill:,.4f}"
    return (f"step {step}/{n_steps} | time left {time_left} | inventory {holdings_shares:,.0f}/{total_shares:,.0f} "
            f"shares to {side} | last fill {fill} | spread {spread}")


def bars_image(time_fraction: float, executed_fraction: float, height: int = 64, width: int = 256) -> np.ndarray:
    """A white ``(height, width, 3)`` uint8 image with two bars filled to the given fractions."""
    img = np.full((height, width, 3), 255, np.uint8)
    band = height // 2
    for i, (fraction, colour) in enumerate(zip((time_fraction, executed_fraction), _BAR_COLOURS)):
        filled = int(round(min(max(fraction, 0.0), 1.0) * (width - 4)))
        top = i * band + 4
        img[top:top + band - 8, 2:2 + filled] = colour
        img[top:top + band - 8, [1, width - 2]] = 0  # the bar's ends
    return img


class RenderMixin:
    """``render()`` of the single environments, per ``self.render_mode``.

    Subclasses set ``self.render_mode = check_render_mode(render_mode)`` in ``__init__`` and
    implement ``_render_state()``: the keyword arguments of :func:`ansi_line`.
    """

    metadata: dict[str, Any] = RENDER_METADATA
    render_mode: str | None = None

    def _render_state(self) -> dict[str, Any]:
        raise NotImplementedError

    def render(self) -> str | np.ndarray | None:
        if self.render_mode is None:
            logger.warn("render() was called with render_mode=None: make the env with render_mode='ansi' "
                        "or 'rgb_array' to render")
            return None
        state = self._render_state()
        if self.render_mode == "ansi":
            return ansi_line(**state)
        step = state["step"] or 0
        executed = 1.0 - state["holdings_shares"] / state["total_shares"] if state["step"] is not None else 0.0
        return bars_image(step / state["n_steps"], executed)
