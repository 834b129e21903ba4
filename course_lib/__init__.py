"""course_lib: the tested PyTorch library behind the course *Optimization for Machine Learning*.

Modules
-------
optim      optimizers written from scratch as ``torch.optim.Optimizer`` subclasses (first-order,
           and K-FAC, Shampoo and Sophia of chapter 7)
schedules  learning-rate schedules as plain functions of the step, and a driver for any optimizer
problems   differentiable test problems with closed-form gradients and Hessians, data generators
runs       run an optimizer on a problem and record its trajectory
devices    the devices present on this machine
checks     argument checks that raise ValueError naming the parameter and the value
landscape  convexity checks, critical points, random Hessians, escape from saddles
momentum   heavy-ball dynamics on quadratics: iteration matrix, spectral radius, optimal parameters
adaptive   adaptive methods: effective per-coordinate steps, RAdam's rectification, weight decay, state memory
constrained  projections, projected gradient, penalty and barrier methods, KKT residuals, SVM dual
training   gradient clipping, gradient accumulation, a two-process data-parallel SGD step
second_order  Newton, BFGS, L-BFGS, Hessian-vector products, Hutchinson, Gauss-Newton, natural gradient
gradient_flow  initialisation scales, deep MLPs for gradient-flow experiments, per-layer gradient norms
loss_surface  1-D and batched 2-D loss slices, filter normalization, sharpness by power iteration
           and Lanczos on Hessian-vector products, stochastic Lanczos quadrature, mode connectivity
generalization  grokking on modular arithmetic, Group DRO, spurious-feature data, restarts, switching
diagnostics  the debugging checklist of a training run: data, initial loss, gradients, update ratios
reference  the optimizer catalogue (years, papers, family tree, PyTorch defaults) of the appendix
widgets    interactive figures with two faces: live sliders in Jupyter, small multiples in the book
exercises  check(...) for the exercise notebooks: instant feedback from the public tests
grade      the sandboxed autograder: python -m course_lib.grade <set> <submissions>
"""

__version__ = "0.1.0"
