"""B's optimiser: Adam, computed as ``torch.optim.Adam`` computes it on the CPU, to the bit, in a few lines.

``torch.optim``'s optimisers import the compiler stack (``torch._dynamo``) on their first use and break its graphs
at every step; in a session process that import alone was 77 MiB of the peak memory (570 MiB in all, the target
being 500; the 2-core Xeon). This class keeps the same arithmetic, each operation on every tensor in turn (so a session
draws the same clouds as with ``torch.optim.Adam``, which a test checks over rounds of changing learning rates), and
only what B's learning uses: parameter groups with their own learning rates, no weight decay, and a state that
:mod:`~toyflow.preference.undo` saves and restores.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

BETAS = (0.9, 0.999)
EPS = 1e-8


class Adam:
    """Adam (Kingma and Ba) over ``groups``, each ``{"params": [tensors], "lr": rate, ...}`` (other keys are kept
    with the group, as :attr:`param_groups` entries), with betas :data:`BETAS` and epsilon :data:`EPS`.

    :attr:`state` maps a parameter that has taken a step to its ``{"step", "exp_avg", "exp_avg_sq"}``: the step
    count as a float32 scalar tensor and the two moment estimates, shaped as the parameter."""

    def __init__(self, groups: Iterable[dict]) -> None:
        self.param_groups: list[dict] = []
        for group in groups:
            if "lr" not in group:
                raise ValueError("every parameter group needs its learning rate 'lr'")
            self.param_groups.append({**group, "params": list(group["params"])})
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}

    def _params(self) -> list[torch.Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (set it to ``None``, as ``torch.optim``'s default does)."""
        for p in self._params():
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One Adam step of every parameter that has a gradient, at its group's ``lr``: each of Adam's operations
        applied to all of them at once (``torch._foreach_*``, on the CPU a loop over the same kernels: the same
        values as one parameter at a time, in a third of the time for B's 34 tensors)."""
        beta1, beta2 = BETAS
        params, grads, steps, exp_avgs, exp_avg_sqs, rates = [], [], [], [], [], []
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state.get(p)
                if state is None:
                    state = self.state[p] = {
                        "step": torch.zeros((), dtype=torch.float32),
                        "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                        "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
                    }
                params.append(p)
                grads.append(p.grad)
                steps.append(state["step"])
                exp_avgs.append(state["exp_avg"])
                exp_avg_sqs.append(state["exp_avg_sq"])
                rates.append(group["lr"])
        if not params:
            return
        torch._foreach_add_(steps, 1)
        torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)
        torch._foreach_mul_(exp_avg_sqs, beta2)
        torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1 - beta2)
        counts = [step.item() for step in steps]
        denoms = torch._foreach_sqrt(exp_avg_sqs)
        torch._foreach_div_(denoms, [(1 - beta2**count) ** 0.5 for count in counts])
        torch._foreach_add_(denoms, EPS)
        sizes = [-lr / (1 - beta1**count) for lr, count in zip(rates, counts, strict=True)]
        torch._foreach_addcdiv_(params, exp_avgs, denoms, sizes)

    def state_dict(self) -> dict:
        """``{"state": {index: state}, "param_groups": [group with "params" as indices]}``, parameters numbered in
        the order of the groups (the layout of ``torch.optim``'s); the tensors are this optimiser's own, not
        copies."""
        index = {p: i for i, p in enumerate(self._params())}
        groups = [{**group, "params": [index[p] for p in group["params"]]} for group in self.param_groups]
        return {"state": {index[p]: s for p, s in self.state.items()}, "param_groups": groups}

    def load_state_dict(self, saved: dict) -> None:
        """Take the groups' settings and copies of the state of ``saved`` (a :meth:`state_dict` of an optimiser over
        groups of the same sizes and shapes); ``ValueError`` (and nothing changed) if they differ."""
        groups = saved["param_groups"]
        sizes, saved_sizes = [len(g["params"]) for g in self.param_groups], [len(g["params"]) for g in groups]
        if saved_sizes != sizes:
            raise ValueError(f"the saved state has groups of {saved_sizes} parameters, not {sizes}")
        params = self._params()
        for i, s in saved["state"].items():
            if not 0 <= i < len(params) or s["exp_avg"].shape != params[i].shape:
                raise ValueError(f"the saved state of parameter {i} does not fit this optimiser's parameters")
        for group, saved_group in zip(self.param_groups, groups, strict=True):
            group.update({k: v for k, v in saved_group.items() if k != "params"})
        self.state = {params[i]: {k: v.clone() for k, v in s.items()} for i, s in saved["state"].items()}
