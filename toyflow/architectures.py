"""Which network a configuration describes: toyflow's :class:`~toyflow.model.CloudFlow` (or two of them handing
off at a time, :class:`~toyflow.handoff.HandOff`) or the reference's."""

from __future__ import annotations

from torch import nn

from .handoff import HandOff
from .model import CloudFlow, FlowConfig
from .reference import ReferenceConfig, ReferenceFlow


def build_model(meta: dict) -> nn.Module:
    """An untrained network of the architecture that ``meta["config"]`` describes (``arch``: ``"cloudflow"`` or
    ``"reference"``), two such CloudFlows handing off at ``meta["handoff_time"]`` where it is given; raises
    ``ValueError`` for another architecture."""
    config = dict(meta["config"])
    arch = config.get("arch")
    if arch == "cloudflow":
        config.setdefault("class_heads", False)  # files written before the class heads existed
        if meta.get("handoff_time") is not None:
            return HandOff(CloudFlow(FlowConfig(**config)), CloudFlow(FlowConfig(**config)), meta["handoff_time"])
        return CloudFlow(FlowConfig(**config))
    if arch == "reference":
        if meta.get("handoff_time") is not None:
            raise ValueError("handoff_time is for CloudFlows only")
        return ReferenceFlow(ReferenceConfig(**config))
    raise ValueError(f"unknown architecture {arch!r}")
