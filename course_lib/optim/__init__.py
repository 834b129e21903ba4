"""Optimizers written from scratch, each a ``torch.optim.Optimizer`` subclass.

Those PyTorch also has keep PyTorch's constructor names, defaults and semantics, and the test-suite
checks that their trajectories equal PyTorch's in float64.
"""

from .sgd import SGD

__all__ = ["SGD"]
