"""Build step of toyflow (everything else is in pyproject.toml): a built package carries the shipped model A.

Git keeps one copy of model A, ``checkpoints/model_a.safetensors``. Building a wheel (``pip wheel .``,
``python -m build``, a non-editable ``pip install .``) copies it into the package as
``toyflow/_shipped/model_a.safetensors``, where ``toyflow.SHIPPED_CHECKPOINT`` finds it (``toyflow/shipped.py``).
An editable install needs no copy: it finds the checkout's file.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

MODEL_A = Path("checkpoints") / "model_a.safetensors"
PACKAGED = Path("toyflow") / "_shipped" / "model_a.safetensors"  # toyflow.shipped.PACKAGED


class BuildPyWithModelA(build_py):
    """``build_py`` that also copies the shipped model A into the built package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        source = Path(__file__).resolve().parent / MODEL_A
        if not source.is_file():
            raise FileNotFoundError(f"{source}: the shipped model A is missing, so the package would not carry it")
        target = Path(self.build_lib) / PACKAGED
        self.mkpath(str(target.parent))
        self.copy_file(str(source), str(target))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        if getattr(self, "editable_mode", False):
            return outputs
        return [*outputs, str(Path(self.build_lib) / PACKAGED)]


setup(cmdclass={"build_py": BuildPyWithModelA})
