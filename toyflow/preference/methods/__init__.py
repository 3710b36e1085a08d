"""The preference methods, one module each; importing this package registers every one of them.

Every module in this folder is imported, so a new method is one new file with a :func:`~toyflow.preference.base.
register`-ed :class:`~toyflow.preference.base.Method` subclass.
"""

from __future__ import annotations

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
