"""How a command stops on a signal: Ctrl-C (SIGINT) and SIGTERM raised where the command is, as exceptions, so that a
file half written is removed on the way out, and raised again where Python dropped them.

Python runs a signal's handler between two lines of the main thread, wherever it is, and that may be inside a
weakref callback or a finaliser, which the garbage collector calls between any two lines: an exception raised there
is printed ("Exception ignored in ...") and dropped, and the command would go on (a ``prefer`` of 1000 rounds did
after Ctrl-C). :class:`StopSignals` remembers the signal; the command line's long loops call :meth:`StopSignals.check`.
A library's compiled code may also turn the exception raised inside it into an error of its own (matplotlib's
drawing gave "ValueError: Invalid bounding box" for a Ctrl-C that arrived while it drew a round's picture): an error
that ends the command after a signal is the signal's stop.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator


class Terminated(BaseException):
    """SIGTERM, raised where the command is (as Ctrl-C raises ``KeyboardInterrupt``), so that a file half written is
    removed on the way out as after Ctrl-C. A ``BaseException``: no ``except Exception`` on the way swallows it."""


class StopSignals:
    """Ctrl-C (SIGINT) and SIGTERM raised where the command is, as :class:`KeyboardInterrupt` and :class:`Terminated`,
    and remembered (see the module docstring): the long loops (training steps, rounds) call :meth:`check`, which
    raises a dropped one again; the dropped one is not printed (the command ends with its one line); an error that
    leaves :meth:`installed` after a signal leaves it as the signal's stop."""

    def __init__(self) -> None:
        self.pending: type[BaseException] | None = None

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Within: the two handlers, nothing pending, and a dropped stop not printed. Only on the main thread, where
        signal handlers live; SIGINT only where Python's own handler has it (not where the process was started
        ignoring it); the previous handlers are put back after."""
        self.pending = None
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = [(signal.SIGTERM, Terminated)]
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            handled.append((signal.SIGINT, KeyboardInterrupt))
        previous = {signum: signal.signal(signum, self._handler(stop)) for signum, stop in handled}
        previous_hook = sys.unraisablehook

        def unraisable(dropped: sys.UnraisableHookArgs) -> None:
            if self.pending is None or not isinstance(dropped.exc_value, self.pending):
                previous_hook(dropped)

        sys.unraisablehook = unraisable
        try:
            yield
        except Exception as error:  # a library made the stop an error of its own: the stop, as the signal asked
            if self.pending is None:
                raise
            raise self.pending from error
        finally:
            sys.unraisablehook = previous_hook
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _handler(self, stop: type[BaseException]) -> Callable[[int, object], None]:
        def handle(signum: int, frame: object) -> None:
            self.pending = stop
            raise stop

        return handle

    def check(self) -> None:
        """Raise the stop a signal asked for, if one did (its first raise may have been dropped)."""
        if self.pending is not None:
            raise self.pending


STOP = StopSignals()  # the command line's: main installs it, the commands' loops check it
