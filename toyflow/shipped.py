"""Where the shipped model A's lie, wherever toyflow is installed.

Two model A's ship: ``model_a`` (a velocity head per class and a gate, trained with the mixture's labels) and
``model_a_label_free`` (one velocity head, never shown a label, like the original's model A and the generative models
people fine-tune in practice). One copy of each is kept in git, at ``checkpoints/NAME.safetensors`` in the
repository. Building a wheel (or a non-editable ``pip install .``) copies them into the package as
``toyflow/_shipped/NAME.safetensors`` (see ``setup.py``), so an installed toyflow carries its own model A's; a
checkout or an editable install finds the repository's copies.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
SHIPPED_MODELS = ("model_a", "model_a_label_free")  # the gated model A (the default) first
PACKAGED_DIR = PACKAGE_DIR / "_shipped"  # setup.py writes them here in a built package
CHECKOUT_DIR = PACKAGE_DIR.parent / "checkpoints"
PACKAGED = PACKAGED_DIR / "model_a.safetensors"
IN_CHECKOUT = CHECKOUT_DIR / "model_a.safetensors"


def shipped_checkpoint(name: str = "model_a") -> Path:
    """The path of the shipped model A called ``name`` (one of :data:`SHIPPED_MODELS`): the package's own copy
    when it has one (an installed wheel), else the checkout's ``checkpoints/NAME.safetensors`` (which may be
    missing, e.g. in a wheel built without it). ``ValueError`` for another name."""
    if name not in SHIPPED_MODELS:
        raise ValueError(f"no shipped model A is called {name!r}; expected one of {SHIPPED_MODELS}")
    packaged = PACKAGED_DIR / f"{name}.safetensors"
    return packaged if packaged.is_file() else CHECKOUT_DIR / f"{name}.safetensors"
