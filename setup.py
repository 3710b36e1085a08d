"""Build step of toyflow (everything else is in pyproject.toml): a built package carries the shipped model A's.

Git keeps one copy of each model A, ``checkpoints/model_a.safetensors`` (with a gate) and
``checkpoints/model_a_label_free.safetensors`` (never shown a label). Building a wheel (``pip wheel .``,
``python -m build``, a non-editable ``pip install .``) copies them into the package as ``toyflow/_shipped/``, where
``toyflow.shipped.shipped_checkpoint`` finds them. An editable install needs no copy: it finds the checkout's files.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

MODELS = ("model_a.safetensors", "model_a_label_free.safetensors")  # toyflow.shipped.SHIPPED_MODELS
CHECKPOINTS = Path("checkpoints")
PACKAGED = Path("toyflow") / "_shipped"  # toyflow.shipped.PACKAGED_DIR


class BuildPyWithModelA(build_py):
    """``build_py`` that also copies the shipped model A's into the built package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for name in MODELS:
            source = Path(__file__).resolve().parent / CHECKPOINTS / name
            if not source.is_file():
                raise FileNotFoundError(f"{source}: a shipped model A is missing, so the package would not carry it")
            target = Path(self.build_lib) / PACKAGED / name
            self.mkpath(str(target.parent))
            self.copy_file(str(source), str(target))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        if getattr(self, "editable_mode", False):
            return outputs
        return [*outputs, *(str(Path(self.build_lib) / PACKAGED / name) for name in MODELS)]


setup(cmdclass={"build_py": BuildPyWithModelA})
