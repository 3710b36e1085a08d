"""Where the shipped model A lies, wherever toyflow is installed.

One copy is kept in git, at ``checkpoints/model_a.safetensors`` in the repository. Building a wheel (or a
non-editable ``pip install .``) copies it into the package as ``toyflow/_shipped/model_a.safetensors`` (see
``setup.py``), so an installed toyflow carries its own model A; a checkout or an editable install finds the
repository's copy.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGED = PACKAGE_DIR / "_shipped" / "model_a.safetensors"  # setup.py writes it here in a built package
IN_CHECKOUT = PACKAGE_DIR.parent / "checkpoints" / "model_a.safetensors"


def shipped_checkpoint() -> Path:
    """The path of the shipped model A: the package's own copy when it has one (an installed wheel), else the
    checkout's ``checkpoints/model_a.safetensors`` (which may be missing, e.g. in a wheel built without it)."""
    return PACKAGED if PACKAGED.is_file() else IN_CHECKOUT
