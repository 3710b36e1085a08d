"""A and B in motion: a time slider and a play button moving model A's and model B's clouds from the same noises,
side by side, from noise (t = 0) to shape (t = 1).

The frames are drawn once per round (:func:`motion_pngs`: one PNG per sampler step, A's clouds in red above B's in
green), so moving the slider only swaps an image.
"""

from __future__ import annotations

import functools
import html

import ipywidgets as widgets
import numpy as np
import torch

from ..cores import cores, on_cores, whole_parts
from ..plotting import GREEN, RED, WHITE, indexed_png, pixel_places, rgb_bytes

GAP = 6  # white pixels between clouds


PALETTE = (WHITE, RED, GREEN)  # the frames' colours: background, model A, model B


def frames_indices(trajectory_a: torch.Tensor, trajectory_b: torch.Tensor | None = None, size: int = 120) -> np.ndarray:
    """Every frame of the trajectories ``trajectory_a`` (and ``trajectory_b``), each ``(k, n, num_points, 2)``, as
    colour numbers into :data:`PALETTE`: uint8 ``(k, height, width)``. Frame ``j`` holds A's ``n`` clouds of step
    ``j`` in a row and, under them, B's from the same noises; each cloud in its ``size`` x ``size`` square as
    :func:`~toyflow.plotting.dot_mask` draws it (points outside [-1.1, 1.1]^2 and non-finite ones left out). All the
    frames' points are placed at once (a tenth of the time of a cloud at a time)."""
    rows = [trajectory_a] + ([trajectory_b] if trajectory_b is not None else [])
    k, n = trajectory_a.shape[:2]
    image = np.zeros((k, len(rows) * (size + GAP) - GAP, n * (size + GAP) - GAP), dtype=np.uint8)
    for r, trajectory in enumerate(rows):
        places = pixel_places(trajectory, size, drop_outside=True, dot=2)  # dot_mask's 2 x 2 dots
        step, cloud = places.cloud
        image[step, r * (size + GAP) + places.row, cloud * (size + GAP) + places.col] = r + 1
    return image


def frame_indices(a_clouds: torch.Tensor, b_clouds: torch.Tensor | None = None, size: int = 120) -> np.ndarray:
    """One frame as colour numbers into :data:`PALETTE` (uint8 ``(height, width)``): the clouds of ``a_clouds (n,
    num_points, 2)`` in a row, and under them, if given, those of ``b_clouds (n, num_points, 2)`` (the same noise
    in the same column); :func:`frames_indices` of one step."""
    return frames_indices(a_clouds[None], None if b_clouds is None else b_clouds[None], size)[0]


def motion_frame(a_clouds: torch.Tensor, b_clouds: torch.Tensor | None = None, size: int = 120) -> np.ndarray:
    """One frame as an RGB image ``(height, width, 3)`` uint8: :func:`frame_indices` in A's red above B's green."""
    return np.stack([rgb_bytes(c) for c in PALETTE])[frame_indices(a_clouds, b_clouds, size)]


def motion_pngs(trajectory_a: torch.Tensor, trajectory_b: torch.Tensor | None = None, size: int = 120) -> list[bytes]:
    """One PNG per step of ``trajectory_a`` (and ``trajectory_b``), each ``(k, n, num_points, 2)``: indexed PNGs of
    three colours (:func:`frames_indices`), quick to encode; the steps shared out between the cores
    (:func:`~toyflow.cores.on_cores`), the same bytes."""

    def frames(a: torch.Tensor, b: torch.Tensor | None) -> list[bytes]:
        return [indexed_png(frame, PALETTE) for frame in frames_indices(a, b, size)]

    sizes = whole_parts(trajectory_a.shape[0], 1, cores())
    pieces_b = [None] * len(sizes) if trajectory_b is None else trajectory_b.split(sizes)
    parts = on_cores(
        [functools.partial(frames, a, b) for a, b in zip(trajectory_a.split(sizes), pieces_b, strict=True)]
    )
    return [png for part in parts for png in part]


class MotionView(widgets.VBox):
    """A play button linked to a step slider (class ``toyflow-motion-slider``) and the frame (an image of class
    ``toyflow-motion``); empty until :meth:`show`. Moving the slider swaps the frame, nothing is computed."""

    def __init__(
        self, interval_ms: int = 450, title: str = "model A (red) and model B (green) from the same noise"
    ) -> None:
        self.title = title
        self.frames: list[bytes] = []
        self.times: list[float] = []
        self.what = ""
        self.play = widgets.Play(value=0, min=0, max=1, step=1, interval=interval_ms, description="play")
        self.slider = widgets.IntSlider(value=0, min=0, max=1, description="step", continuous_update=True)
        self.slider.add_class("toyflow-motion-slider")
        self._link = widgets.jslink((self.play, "value"), (self.slider, "value"))
        self.image = widgets.Image(format="png")
        self.image.add_class("toyflow-motion")
        self.caption = widgets.HTML("")
        self.slider.observe(lambda _change: self._show_frame(), names="value")
        self.controls = widgets.HBox([self.play, self.slider])
        super().__init__([self.caption])

    def show(self, frames: list[bytes], times: list[float] | torch.Tensor, what: str = "") -> None:
        """Show new ``frames`` (PNG bytes, one per time in ``times``), at the last one (the finished shapes)."""
        self.frames, self.times = list(frames), [float(t) for t in times]
        last = len(self.frames) - 1
        self.what = what
        for control in (self.play, self.slider):
            control.max = max(last, 1)
        self.play.value = last
        self.slider.value = last
        self.children = (self.caption, self.controls, self.image)
        self._show_frame()

    def _show_frame(self) -> None:
        if not self.frames:
            return
        k = min(self.slider.value, len(self.frames) - 1)
        self.image.value = self.frames[k]
        where = "noise" if k == 0 else ("the finished shapes" if k == len(self.frames) - 1 else "on the way")
        what = f" · {html.escape(self.what)}" if self.what else ""
        self.caption.value = (
            f"<b>{html.escape(self.title)}</b>{what}<br><small>step {k} of {len(self.frames) - 1}: "
            f"t = {self.times[k]:.2f} ({where})</small>"
        )

    def pending(self) -> None:
        """Say that the frames are being drawn."""
        self.children = (self.caption,)
        self.caption.value = "<small><i>drawing A and B in motion…</i></small>"

    def clear(self, message: str = "") -> None:
        """Hide the frames (``message``, if any, says why)."""
        self.frames, self.times = [], []
        self.children = (self.caption,)
        self.caption.value = f"<small>{html.escape(message)}</small>" if message else ""
