"""Labelling with the keyboard: 1-4 toggle the tiles, Enter teaches, N shows the next proposals, 0 means none of
these, U undoes the last round.

:class:`Keyboard` maps a key to an action of the picker. The browser's key presses reach it through ``ipyevents``
(an :class:`ipyevents.Event` watching ``keydown`` on the picker: while the mouse is over the picker, ipyevents
takes the keys, so JupyterLab's own shortcuts, such as 0 0 to restart the kernel, do not fire); :meth:`Keyboard.press`
is the same handler called directly (tests, scripts). Without ipyevents the keys do nothing and every button
still works.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import ipywidgets as widgets

try:  # a declared dependency; kept optional so the picker still works in a front end without it
    from ipyevents import Event
except ImportError:  # pragma: no cover - exercised only where ipyevents is missing
    Event = None

FOCUSABLE = {"INPUT", "SELECT", "TEXTAREA"}  # elements whose keys are typed into them
HELP = "keys (mouse over the picker): 1-4 tick · Enter teach · 0 none of these · N next · U undo"


def normalise(key: str) -> str:
    """A browser's ``KeyboardEvent.key`` as the keyboard's maps spell it: letters in lower case, ``"Enter"`` as is."""
    return key.lower() if len(key) == 1 else key


class Keyboard:
    """Keys bound to actions: ``actions`` maps a key (``"1"``, ``"Enter"``, ``"n"``, ...) to a callable.

    :meth:`attach` makes a widget's ``keydown`` events call :meth:`press` (through ipyevents, when installed).
    """

    def __init__(self, actions: Mapping[str, Callable[[], object]]) -> None:
        self.actions = {normalise(k): v for k, v in actions.items()}
        self.pressed: list[str] = []  # keys handled, in order
        self.event = None

    def press(self, key: str) -> bool:
        """Do what ``key`` is bound to; returns whether it is bound (an unbound key does nothing)."""
        action = self.actions.get(normalise(key))
        if action is None:
            return False
        self.pressed.append(normalise(key))
        action()
        return True

    def handle(self, event: Mapping) -> None:
        """An ipyevents ``keydown`` event: press its key, unless a modifier (Ctrl, Alt, Meta) is held, the key is held
        down (the browser repeats it: one U would undo round after round), it is Shift+Enter (JupyterLab's "run the
        cell"), or it is typed into a text field (Shift alone is allowed: some keyboards type digits with it)."""
        key = str(event.get("key", ""))
        target = event.get("target")
        tag = str(target.get("tagName", "")).upper() if isinstance(target, Mapping) else ""
        if (
            event.get("event") != "keydown"
            or any(event.get(m) for m in ("ctrlKey", "altKey", "metaKey"))
            or event.get("repeat")
            or (key == "Enter" and event.get("shiftKey"))
            or tag in FOCUSABLE
        ):
            return
        self.press(key)

    def attach(self, source: widgets.DOMWidget) -> bool:
        """Listen to ``source``'s key presses in the browser; returns whether ipyevents is there to do it."""
        if Event is None:
            return False
        self.event = Event(source=source, watched_events=["keydown"])
        self.event.on_dom_event(self.handle)
        return True
