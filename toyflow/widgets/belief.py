"""What B believes, drawn: the clouds of model A's pool that the preference model rates highest and lowest, each
with its tick rate (and how often B learns from it), and the certainty that the ticks follow the clouds at all, in
words. After random ticks it says, in large letters, that it is not sure (see :mod:`toyflow.preference.belief`)."""

from __future__ import annotations

import functools
import html
import io

import ipywidgets as widgets
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..plotting import RED, rasterize
from ..preference.belief import NOT_SURE_BELOW, SURE_FROM, PoolReading, how_sure

VERDICT_COLORS = {"not sure": "#6b7280", "fairly sure": "#d97706", "sure": "#2563eb"}
RATE_COLOR = "#2563eb"
FADED_RED = (0.93, 0.62, 0.62)
GAP, PAD, HEADER, HEADING, UNDER = 10, 8, 46, 16, 30  # pixels: between tiles, margins, header, row heading, under
MIN_WIDTH = 600  # pixels: room for the header and the headings


def _weight(value: float) -> str:
    """How often B sees a cloud against A's own law, short: ``×5.1``, ``×0.02``, ``×1``."""
    if value < 0.1:
        return f"×{value:.1g}"
    return f"×{value:.2g}" if value < 10 else f"×{value:.0f}"


@functools.cache
def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """Matplotlib's DejaVu Sans (it ships with matplotlib) at ``size`` pixels, for PIL."""
    from matplotlib import font_manager

    path = font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans", weight="bold" if bold else "normal"))
    return ImageFont.truetype(path, size)


def belief_png_size(k: int, size: int = 96) -> tuple[int, int]:
    """``(width, height)`` in pixels of :func:`belief_png` for ``k`` clouds a row, each ``size`` pixels wide."""
    width = max(2 * PAD + k * (size + GAP) - GAP, MIN_WIDTH)
    return width, HEADER + 2 * HEADING + 2 * (size + UNDER) + PAD


def belief_png(reading: PoolReading, size: int = 96) -> bytes:
    """One PNG of :class:`~toyflow.preference.belief.PoolReading`: a header with the certainty in words and as a
    gauge (marks at 0.5 and 0.9), then the ``k`` clouds ``(num_points, 2)`` rated highest and the ``k`` rated lowest,
    each ``size`` pixels wide, red like A's clouds, over a bar of its tick rate (the whisker: one standard deviation)
    with the rate and, where the method weighs A's pool, how often B sees the cloud against A's own law (``×1``: as
    often as A draws it). Not sure (certainty below 0.5): the clouds fade and "not sure" is stamped across them.
    NumPy and PIL, no matplotlib figure: a few milliseconds."""
    k = int(reading.top.shape[0])
    row_width = k * (size + GAP) - GAP
    width, height = belief_png_size(k, size)
    rows_top = [HEADER + HEADING, HEADER + 2 * HEADING + size + UNDER]
    left = (width - row_width) // 2
    sure = reading.certainty >= NOT_SURE_BELOW
    cloud_color = RED if sure else FADED_RED  # not sure: the clouds fade, B barely tells them apart
    canvas = np.full((height, width, 3), 255, dtype=np.uint8)
    rows = [
        (reading.top, reading.top_rates, reading.top_weights),
        (reading.bottom, reading.bottom_rates, reading.bottom_weights),
    ]
    for y, (clouds, _, _) in zip(rows_top, rows, strict=True):
        for i in range(k):
            x = left + i * (size + GAP)
            canvas[y : y + size, x : x + size] = rasterize(clouds[i], size, cloud_color, dot=2 if size >= 64 else 1)
    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    small, bold = _font(11), _font(14, bold=True)

    words = how_sure(reading.certainty)
    color = VERDICT_COLORS[words]
    draw.text((PAD, 5), f"What B believes: {words}", font=bold, fill=color)
    gauge_w, gauge_y = 150, 27
    draw.rectangle((PAD, gauge_y, PAD + gauge_w, gauge_y + 10), fill="#e5e7eb", outline="#9ca3af")
    if reading.certainty > 0:
        draw.rectangle((PAD, gauge_y, PAD + round(gauge_w * reading.certainty), gauge_y + 10), fill=color)
    for mark in (NOT_SURE_BELOW, SURE_FROM):
        x = PAD + round(gauge_w * mark)
        draw.line((x, gauge_y - 2, x, gauge_y + 12), fill="#374151", width=1)
    figures = (
        f"certainty {reading.certainty:.2f} · evidence {reading.evidence:+.1f} nats from {reading.labelled} labels"
    )
    draw.text((PAD + gauge_w + 8, gauge_y + 5), figures, font=small, fill="#374151", anchor="lm")

    headings = ["rated highest", "rated lowest"]
    if reading.top_weights is not None:
        headings[0] = "rated highest: the tick rate, and how often B learns from the cloud (×1: as often as A draws it)"
        headings[1] = (
            f"rated lowest · B learns from about {reading.effective_samples:.0f} of A's {reading.pool_size} clouds"
        )
    for y, heading, (_, rates, weights) in zip(rows_top, headings, rows, strict=True):
        draw.text((left, y - 3), heading, font=small, fill="#111827", anchor="ls")
        for i in range(k):
            x = left + i * (size + GAP)
            rate, spread = float(rates.mean[i]), float(rates.spread[i])
            bar_y = y + size + 3
            draw.rectangle((x, bar_y, x + size - 1, bar_y + 5), fill="#e5e7eb")
            if rate > 0:
                draw.rectangle((x, bar_y, x + round((size - 1) * rate), bar_y + 5), fill=RATE_COLOR)
            lo, hi = max(rate - spread, 0.0), min(rate + spread, 1.0)
            draw.line((x + round((size - 1) * lo), bar_y + 2, x + round((size - 1) * hi), bar_y + 2), fill="#111827")
            label = f"{rate:.2f}" + (f"  {_weight(float(weights[i]))}" if weights is not None else "")
            draw.text((x + size / 2, bar_y + 9), label, font=small, fill="#111827", anchor="mt")
    if not sure:
        stamp = Image.new("L", (width, size), 0)
        ImageDraw.Draw(stamp).text((width / 2, size / 2), "not sure", font=_font(40, bold=True), fill=255, anchor="mm")
        stamp = stamp.rotate(6, resample=Image.BICUBIC)
        grey = Image.new("RGB", stamp.size, "#6b7280")
        image.paste(grey, (0, rows_top[0]), stamp.point(lambda v: v * 0.6))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def belief_caption(reading: PoolReading, title: str = "", weighs: bool = True) -> str:
    """The view's caption (HTML): what the certainty means for B, in a sentence, with ``title`` (e.g. the round);
    ``weighs=False`` when the method in use does not learn from this belief."""
    words = how_sure(reading.certainty)
    verdict = (
        f'<span class="toyflow-belief-verdict" data-verdict="{words}" style="color:{VERDICT_COLORS[words]}">'
        f"<b>{words}</b></span>"
    )
    if not weighs:
        effect = "the method in use does not learn from this belief: it is what the ticks say, for comparison"
    elif words == "not sure":
        effect = (
            "the ticks do not (yet) follow the clouds, so B barely tilts A's pool and learns at a fraction of its "
            "learning rates: B stays close to A"
        )
    elif words == "fairly sure":
        effect = "B tilts A's pool towards the clouds rated highest, at part of its learning rates"
    else:
        effect = "B learns from the clouds rated highest, at nearly its full learning rates"
    where = f" · {html.escape(title)}" if title else ""
    return (
        f"<b>What B believes</b>{where}: {verdict} (certainty {reading.certainty:.2f})<br><small>"
        f"The preference model's reading of A's {reading.pool_size} pool clouds, from {reading.labelled} labelled "
        f"clouds; {effect}.</small>"
    )


class BeliefView(widgets.VBox):
    """What B believes after each round (a box of class ``toyflow-belief-view``): the picture (an image of class
    ``toyflow-belief``) and a caption whose verdict (class ``toyflow-belief-verdict``, ``data-verdict`` "not sure",
    "fairly sure" or "sure") says how sure the preference model is; empty until :meth:`show`. Its methods only set
    widget values, so a worker thread may call them."""

    def __init__(self, size: int = 96) -> None:
        self.size = size
        self.reading: PoolReading | None = None
        self.png = b""
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.image.add_class("toyflow-belief")
        self.caption = widgets.HTML("")
        super().__init__([self.caption])
        self.add_class("toyflow-belief-view")

    def show(self, reading: PoolReading, title: str = "", weighs: bool = True) -> None:
        """Draw ``reading`` (see :func:`belief_png`) with its caption (:func:`belief_caption`)."""
        self.png = belief_png(reading, self.size)
        self.reading = reading
        self.image.layout.width = f"{belief_png_size(int(reading.top.shape[0]), self.size)[0]}px"  # not stretched
        self.image.value = self.png
        self.caption.value = belief_caption(reading, title, weighs)
        self.children = (self.caption, self.image)

    def pending(self) -> None:
        """Say that the picture is being drawn (the last one stays until the new one is ready)."""
        self.caption.value = "<b>What B believes</b><br><small><i>reading A's pool…</i></small>"

    def clear(self, message: str = "") -> None:
        """Hide the picture (``message``, if any, says why)."""
        self.reading, self.png = None, b""
        self.children = (self.caption,)
        self.caption.value = f"<b>What B believes</b><br><small>{html.escape(message)}</small>" if message else ""

    def failed(self, message: str) -> None:
        """Say that drawing failed (never raised: this may run on a worker thread)."""
        self.caption.value = f'<small style="color:#b91c1c">what B believes: {html.escape(message)}</small>'
