"""Lookahead: slow weights that every k steps move part of the way to where a base optimizer went."""

from __future__ import annotations

import torch


class OptimizerWrapper(torch.optim.Optimizer):
    """An optimizer that acts around the step of a base optimizer.

    It shares the base's ``param_groups`` (the same list of the same dicts), so learning-rate
    schedulers, ``add_param_group`` and ``zero_grad`` reach the base; its own ``state`` holds only
    what the wrapper adds, and ``state_dict`` carries the base's state dict inside its own.
    """

    def __init__(self, base_optimizer: torch.optim.Optimizer):
        if not isinstance(base_optimizer, torch.optim.Optimizer):
            raise TypeError(f"base_optimizer must be a torch.optim.Optimizer, got {type(base_optimizer).__name__}")
        self.base_optimizer = base_optimizer
        super().__init__(base_optimizer.param_groups, base_optimizer.defaults)
        self.param_groups = base_optimizer.param_groups

    def add_param_group(self, param_group: dict) -> None:
        # Optimizer.__init__ hands the base's own groups back here: those are in place already.
        if not any(param_group is group for group in self.base_optimizer.param_groups):
            self.base_optimizer.add_param_group(param_group)

    def __getstate__(self) -> dict:
        # Optimizer pickles only defaults, state and param_groups; a wrapper is nothing without its base.
        return {**super().__getstate__(), "base_optimizer": self.base_optimizer}

    def state_dict(self) -> dict:
        state_dict = super().state_dict()
        state_dict["base_optimizer"] = self.base_optimizer.state_dict()
        return state_dict

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        self.base_optimizer.load_state_dict(state_dict.pop("base_optimizer"))
        super().load_state_dict(state_dict)
        # Each load put new group dicts in place: go back to sharing the base's.
        self.param_groups = self.base_optimizer.param_groups


class Lookahead(OptimizerWrapper):
    r"""Lookahead (Zhang, Lucas, Hinton & Ba 2019, "Lookahead Optimizer: k steps forward, 1 step
    back", NeurIPS; Algorithm 1) around any base ("fast") optimizer.

    The base optimizer updates the fast weights :math:`\theta` at every step. Every :math:`k`
    steps the slow weights :math:`\phi` move a fraction :math:`\alpha` of the way to the fast
    weights, and the fast weights restart from there:

    .. math::

        \phi \leftarrow \phi + \alpha\, (\theta - \phi), \qquad \theta \leftarrow \phi

    The slow weights of a parameter start from its value just before the first step it takes
    part in (not at construction, so that weights loaded into the model after building the
    optimizer are the ones the slow weights start from). They are kept per parameter, in
    ``state[p]["slow_param"]``, so a parameter that has no gradient at some step keeps its own
    slow weights; ``fast_steps`` counts the base optimizer's steps. The base optimizer's state
    (momentum, moments) carries on across the synchronisations, as in the paper. With
    :math:`\alpha = 1` Lookahead is its base optimizer; with :math:`\alpha = 0` the weights return
    to their start every :math:`k` steps.

    Defaults: ``k=5, alpha=0.5``.

    Example::

        opt = Lookahead(torch.optim.AdamW(model.parameters(), lr=1e-3), k=5, alpha=0.5)
        loss_fn(model(x), y).backward()
        opt.step(); opt.zero_grad()
    """

    def __init__(self, base_optimizer: torch.optim.Optimizer, k: int = 5, alpha: float = 0.5):
        self._check(k, alpha)
        super().__init__(base_optimizer)
        self.k, self.alpha = k, alpha
        self.fast_steps = 0

    @staticmethod
    def _check(k, alpha) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"Invalid k: {k!r} (must be an integer >= 1)")
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
            raise ValueError(f"Invalid alpha: {alpha!r} (must lie in [0, 1])")

    @torch.no_grad()
    def step(self, closure=None):
        # With a closure the gradients only exist inside the base step, so every parameter that
        # can receive one gets its slow weights now, before the base optimizer moves it.
        for group in self.param_groups:
            for p in group["params"]:
                if p.requires_grad and p not in self.state:
                    self.state[p]["slow_param"] = p.detach().clone()
        loss = self.base_optimizer.step(closure)
        self.fast_steps += 1
        if self.fast_steps % self.k == 0:
            for p, state in self.state.items():
                slow = state["slow_param"]
                # lerp_ is exact at both ends: alpha = 1 gives the fast weights, alpha = 0 the slow
                slow.lerp_(p, self.alpha)
                p.copy_(slow)
        return loss

    def __getstate__(self) -> dict:
        return {**super().__getstate__(), "k": self.k, "alpha": self.alpha, "fast_steps": self.fast_steps}

    def state_dict(self) -> dict:
        state_dict = super().state_dict()
        state_dict["lookahead"] = {"k": self.k, "alpha": self.alpha, "fast_steps": self.fast_steps}
        return state_dict

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        lookahead = state_dict.pop("lookahead")
        self._check(lookahead["k"], lookahead["alpha"])
        super().load_state_dict(state_dict)
        self.k, self.alpha, self.fast_steps = lookahead["k"], lookahead["alpha"], lookahead["fast_steps"]
