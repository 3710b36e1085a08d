"""The picker's controls and status line: buttons, progress, what a round did in words, and pending work."""

from __future__ import annotations

import concurrent.futures
import html
import math
import re
import time
from concurrent.futures import Future

import ipywidgets as widgets

from ..preference.records import RoundRecord

# how the status line says each figure an update reports (toyflow.preference.records.UpdateStats), in its words
QUANTITY_WORDS: dict[str, tuple[str, str, str]] = {
    "certainty": ("certainty", ".2f", ""),
    "evidence": ("evidence", ".1f", " nats"),
    "effective_samples": ("B learned from", ".0f", " of A's clouds"),
    "tilt": ("tilt from A's law", ".2f", " nats"),
    "gate_shift": ("log odds of an S curve, B over A", "+.2f", " nats"),
    "preference_loss": ("preference loss", ".3f", ""),
    "flow_loss": ("flow loss", ".3f", ""),
    "barrier": ("barrier λ", ".3f", ""),
}


def fmt(value: float | None, spec: str = ".3f") -> str:
    """``value`` formatted with ``spec``, or a dash when there is none (``None`` or NaN)."""
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def describe_record(record: RoundRecord, soft: bool, total_seconds: float) -> str:
    """One line about a :class:`~toyflow.preference.records.RoundRecord`: what B learned from (or why it did
    not), the quantities the method in use reported (its :class:`~toyflow.preference.records.UpdateStats`: only
    those it has), and how long the update and the whole round took."""
    if record.updated:
        labels = record.labels or []
        what = "model B learned from " + (
            f"probabilities {[round(v, 2) for v in labels]}"
            if soft
            else f"ticks {[i for i, v in enumerate(labels) if v > 0]}"
        )
    else:
        what = record.reason or "B unchanged"
    parts = [what]
    for name, value in record.stats.reported().items():
        if math.isnan(value):  # a figure without a value is left out, never a dash
            continue
        words, spec, unit = QUANTITY_WORDS[name]
        parts.append(f"{words} {fmt(value, spec)}{unit}")
    parts.append(f"update {record.seconds:.2f} s, round {total_seconds:.2f} s")
    return " · ".join(parts) + " · press Next proposals for more"


class ControlBar:
    """The picker's buttons ("Teach model B", "None of these", "Next proposals" in the first row; the session's
    ``session`` labels, "Undo last round", "Reset", "Save session", in a second row), the progress bar shown while
    an answer is handled (class ``toyflow-progress``), and the status line (class ``toyflow-status``)."""

    def __init__(self, teach: str, skip: str, next_: str, session: tuple[str, str, str] = ()) -> None:
        self.teach = widgets.Button(description=teach, button_style="success", icon="graduation-cap")
        self.skip = widgets.Button(description=skip, icon="ban")
        self.next = widgets.Button(description=next_, icon="refresh")
        icons = ("undo", "trash", "save")
        tips = (
            "take the last round back: model B returns exactly to its state before it",
            "forget everything model B learned: B becomes model A again",
            "write the session's log (every answer, replayable bit for bit) to a JSON file",
        )
        self.session_buttons = tuple(
            widgets.Button(description=label, icon=icon, tooltip=tip)
            for label, icon, tip in zip(session, icons, tips, strict=False)
        )
        for button in (*self.buttons, *self.session_buttons):
            button.layout.width = "auto"
        self.session_row = widgets.HBox(list(self.session_buttons))
        self.progress = widgets.IntProgress(value=0, min=0, max=3, layout=widgets.Layout(visibility="hidden"))
        self.progress.layout.width = "160px"
        self.progress.add_class("toyflow-progress")
        self.progress_label = widgets.HTML("")
        self.row = widgets.HBox(
            [*self.buttons, self.progress, self.progress_label], layout=widgets.Layout(align_items="center")
        )
        self.status = widgets.HTML("")
        self.status.add_class("toyflow-status")

    @property
    def buttons(self) -> tuple[widgets.Button, widgets.Button, widgets.Button]:
        """The three buttons."""
        return self.teach, self.skip, self.next

    def enable(self, on: bool) -> None:
        """Let the buttons be pressed, or not."""
        for button in (*self.buttons, *self.session_buttons):
            button.disabled = not on

    def working(self, on: bool) -> None:
        """Show the progress bar (or hide it and its label)."""
        self.progress.layout.visibility = "visible" if on else "hidden"
        if not on:
            self.progress_label.value = ""

    def stage(self, value: int, text: str) -> None:
        """Progress stage ``value`` (of 3), described by ``text``."""
        self.progress.value = value
        self.progress_label.value = f"<i>{html.escape(text)}</i>"

    def say(self, rounds: int, labelled: int, notice: str, error: str | None = None) -> None:
        """Set the status line: the counts of rounds, then the ``error`` in red if there is one, else ``notice``."""
        body = (
            f'<span style="color:#b91c1c"><b>error:</b> {html.escape(error)}</span>' if error else html.escape(notice)
        )
        self.status.value = f"round {rounds} · labelled rounds: {labelled} · {body}"

    @property
    def text(self) -> str:
        """The status line as plain text."""
        return html.unescape(re.sub(r"<[^>]+>", "", self.status.value))


class Pending:
    """Work queued elsewhere (futures, e.g. a chart point measured on a worker thread) that one can wait for."""

    def __init__(self) -> None:
        self.futures: list[Future] = []

    def add(self, future: Future) -> None:
        """Count ``future`` as pending until it is done."""
        self.futures = [f for f in self.futures if not f.done()] + [future]

    @property
    def any(self) -> bool:
        """Whether some of it is not done yet."""
        return any(not f.done() for f in self.futures)

    def wait(self, timeout: float | None = 120) -> bool:
        """Wait until all of it is done; returns whether it finished within ``timeout`` s. Work that failed is done
        too: its error is its own to show, not the waiter's (an undo waits for the chart, whatever became of it)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for future in list(self.futures):
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                future.exception(timeout=left)
            except concurrent.futures.CancelledError:
                continue  # done: it will not run
            except concurrent.futures.TimeoutError:
                return False
        self.futures = []
        return True
