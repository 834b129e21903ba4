"""Optimizers written from scratch, each a ``torch.optim.Optimizer`` subclass.

Those PyTorch also has keep PyTorch's constructor names, defaults and semantics, and the test-suite
checks that their trajectories equal PyTorch's in float64.
"""

from .adabound import AdaBound
from .adadelta import Adadelta
from .adafactor import Adafactor
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .adaptive_momentum import LossAdaptiveSGD
from .centralization import GradientCentralization, centralize_gradient_
from .lion import Lion
from .lookahead import Lookahead
from .nadam import NAdam
from .radam import RAdam
from .rmsprop import RMSprop
from .sgd import SGD
from .kfac import KFAC
from .shampoo import Shampoo
from .sophia import Sophia

__all__ = ["SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "Adafactor",
           "Lion", "AdaBound", "Lookahead", "GradientCentralization", "centralize_gradient_",
           "LossAdaptiveSGD", "KFAC", "Shampoo", "Sophia"]
