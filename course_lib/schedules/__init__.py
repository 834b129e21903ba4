"""Learning-rate schedules as plain functions of the step, and a driver for any optimizer.

Each schedule is a pure function ``f(step, **hyperparameters) -> float``; fix the hyperparameters
with ``functools.partial`` (or a lambda) to get the ``step -> lr`` function that
:class:`FunctionScheduler` and :func:`schedule_values` take. ``step`` counts optimizer updates
from 0, which is PyTorch's ``scheduler.last_epoch`` in the usual loop
``optimizer.step(); scheduler.step()``. Where PyTorch has the schedule, the docstring names it
and says where its sequence and the textbook formula part; the test-suite checks the sequences
against PyTorch's to 1e-12.

Example::

    from functools import partial
    from course_lib.optim import SGD
    from course_lib.schedules import FunctionScheduler, one_cycle, one_cycle_momentum

    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = FunctionScheduler(opt, partial(one_cycle, max_lr=0.1, total_steps=1000),
                              momentum_fn=partial(one_cycle_momentum, total_steps=1000))
"""

from .cosine import cosine_annealing, cosine_warm_restarts, warmup_cosine
from .cyclical import cyclic, cyclic_momentum, one_cycle, one_cycle_momentum
from .decay import constant, exponential_decay, multistep_decay, polynomial_decay, step_decay
from .driver import FunctionScheduler, schedule_values
from .plateau import ReduceOnPlateau
from .range_test import LRRangeTestResult, lr_range_test

__all__ = [
    "constant", "step_decay", "multistep_decay", "exponential_decay", "polynomial_decay",
    "cosine_annealing", "warmup_cosine", "cosine_warm_restarts",
    "one_cycle", "one_cycle_momentum", "cyclic", "cyclic_momentum",
    "ReduceOnPlateau", "FunctionScheduler", "schedule_values",
    "lr_range_test", "LRRangeTestResult",
]
