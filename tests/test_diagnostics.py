r"""Tests of course_lib.diagnostics: every check flags a deliberately broken setup and passes a
healthy one (both directions), and the measured values agree with independent computations."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from course_lib.diagnostics import (CheckResult, ChecklistReport, check_data, check_initial_loss,
                                    check_train_step, cross_entropy_loss, default_train_step,
                                    gradient_report, overfit_one_batch, run_checklist, update_ratio)

C, D, N = 4, 10, 256


def _data(seed=0, device="cpu", dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    centers = 3.0 * torch.randn(C, D, generator=gen)
    y = torch.randint(C, (N,), generator=gen)
    x = centers[y] + torch.randn(N, D, generator=gen)
    return x.to(device=device, dtype=dtype), y.to(device)


def _model(seed=0, device="cpu", dtype=torch.float32):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(D, 32), nn.Tanh(), nn.Linear(32, C)).to(device=device, dtype=dtype)


def _adam(ps):
    return torch.optim.Adam(ps, lr=3e-3)


def _softmax_loss(model, x, y):
    return nn.functional.cross_entropy(torch.softmax(model(x), dim=1), y)


def _no_zero_grad_step(model, optimizer, compute_loss, x, y):
    loss = compute_loss(model, x, y)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


# --- check_data ---------------------------------------------------------------------------------

def test_check_data_passes_aligned_labels_and_fails_shuffled_ones():
    x, y = _data()
    good = check_data(x, y, C)
    assert good.status == "pass" and good.value > 0.9
    shuffled = y[torch.randperm(N, generator=torch.Generator().manual_seed(1))]
    bad = check_data(x, shuffled, C)
    assert bad.status == "fail" and "aligned" in bad.message


def test_check_data_nearest_neighbour_accuracy_matches_brute_force():
    x, y = _data(seed=3)
    x = x + 4.0 * torch.randn(x.shape, generator=torch.Generator().manual_seed(4))  # not separable
    hits = 0
    for i in range(N):  # brute-force leave-one-out
        d = ((x - x[i]) ** 2).sum(dim=1)
        d[i] = math.inf
        hits += int(y[int(d.argmin())] == y[i])
    assert check_data(x, y, C).value == pytest.approx(hits / N, abs=1e-12)


@pytest.mark.parametrize("breakage, words", [
    ("nan", "non-finite"), ("length", "targets"), ("range", "outside"), ("float", "integer"),
    ("empty_class", "no example"),
])
def test_check_data_fails_on_broken_data(breakage, words):
    x, y = _data()
    if breakage == "nan":
        x = x.clone()
        x[3, 2] = math.nan
    elif breakage == "length":
        y = y[:-1]
    elif breakage == "range":
        y = y.clone()
        y[0] = C
    elif breakage == "float":
        y = y.float()
    elif breakage == "empty_class":
        y = torch.where(y == 2, torch.zeros_like(y), y)
    result = check_data(x, y, C)
    assert result.status == "fail" and words in result.message


def test_check_data_warns_on_imbalance():
    x, y = _data()
    keep = (y != 1) | (torch.arange(N) < 40)  # keep only a few examples of class 1
    counts = torch.bincount(y[keep], minlength=C)
    assert counts.max() / counts.min() > 3
    assert check_data(x[keep], y[keep], C, imbalance=3.0).status == "warn"
    assert check_data(x[keep], y[keep], C, imbalance=100.0).status == "pass"


# --- initial loss -------------------------------------------------------------------------------

def test_initial_loss_value_and_both_directions():
    x, y = _data()
    model = _model()
    result = check_initial_loss(model, cross_entropy_loss, x, y, C)
    with torch.no_grad():
        expected = float(nn.CrossEntropyLoss()(model(x), y))
    assert result.value == pytest.approx(expected, rel=1e-6)
    assert result.status == "pass"
    overconfident = copy.deepcopy(model)
    with torch.no_grad():
        overconfident[2].weight.mul_(50.0)  # huge initial logits
    assert check_initial_loss(overconfident, cross_entropy_loss, x, y, C).status == "fail"


def test_softmax_before_cross_entropy_passes_initial_loss_but_fails_overfit():
    x, y = _data()
    model = _model()
    assert check_initial_loss(model, _softmax_loss, x, y, C).status == "pass"
    _, result = overfit_one_batch(model, _softmax_loss, x[:16], y[:16], _adam, steps=150)
    assert result.status == "fail"
    # the softmax of probabilities is bounded: the loss cannot go below log(1 + (C - 1)/e)
    assert result.value * math.log(C) > 0.5 * math.log(1 + (C - 1) / math.e)
    _, healthy = overfit_one_batch(model, cross_entropy_loss, x[:16], y[:16], _adam, steps=150)
    assert healthy.status == "pass"


# --- gradients ----------------------------------------------------------------------------------

def test_gradient_report_norms_match_autograd():
    x, y = _data()
    model = _model()
    report = gradient_report(model, cross_entropy_loss, x, y)
    grads = torch.autograd.grad(cross_entropy_loss(model, x, y), list(model.parameters()))
    for (name, _), g in zip(model.named_parameters(), grads):
        assert report.norms[name] == pytest.approx(float(g.norm()), rel=1e-5)
    assert report.check.status == "pass" and all(p.grad is None for p in model.parameters())


def test_gradient_report_flags_missing_zero_nonfinite_and_frozen():
    x, y = _data()
    model = _model()

    def detached(m, a, b):  # the first layer's output is cut from the graph
        return nn.functional.cross_entropy(m[2](m[1](m[0](a).detach())), b)

    report = gradient_report(model, detached, x, y)
    assert report.check.status == "fail" and set(report.missing) == {"0.weight", "0.bias"}

    zeroed = copy.deepcopy(model)
    with torch.no_grad():
        zeroed[2].weight.zero_()  # no signal flows back to the first layer
    report = gradient_report(zeroed, cross_entropy_loss, x, y)
    assert report.check.status == "fail" and set(report.zero) == {"0.weight", "0.bias"}

    x_nan = x.clone()
    x_nan[0, 0] = math.inf
    report = gradient_report(model, cross_entropy_loss, x_nan, y)
    assert report.check.status == "fail" and report.nonfinite

    frozen = copy.deepcopy(model)
    frozen[0].weight.requires_grad_(False)
    report = gradient_report(frozen, cross_entropy_loss, x, y)
    assert report.check.status == "warn" and report.frozen == ["0.weight"]


# --- train step ---------------------------------------------------------------------------------

def test_check_train_step_finds_missing_zero_grad():
    x, y = _data()
    model = _model()
    sgd = lambda ps: torch.optim.SGD(ps, lr=0.05)  # noqa: E731
    assert check_train_step(model, cross_entropy_loss, x, y, sgd).status == "pass"
    bad = check_train_step(model, cross_entropy_loss, x, y, sgd, train_step=_no_zero_grad_step)
    assert bad.status == "fail" and "zero_grad" in bad.message


def test_check_train_step_warns_when_the_step_rescales_gradients():
    x, y = _data()

    def halving(model, optimizer, compute_loss, a, b):
        optimizer.zero_grad()
        compute_loss(model, a, b).backward()
        for p in model.parameters():
            p.grad.mul_(0.5)
        optimizer.step()
        return 0.0

    result = check_train_step(_model(), cross_entropy_loss, x, y, _adam, train_step=halving)
    assert result.status == "warn" and result.value == pytest.approx(0.5, rel=1e-6)


# --- update ratio -------------------------------------------------------------------------------

def test_update_ratio_equals_lr_times_gradient_over_weight_for_sgd():
    x, y = _data()
    model = _model()
    lr = 1e-3
    ratios, result = update_ratio(model, cross_entropy_loss, x, y, lambda ps: torch.optim.SGD(ps, lr=lr))
    grads = torch.autograd.grad(cross_entropy_loss(model, x, y), list(model.parameters()))
    for (name, p), g in zip(model.named_parameters(), grads):
        assert ratios[name] == pytest.approx(lr * float(g.norm()) / float(p.detach().norm()), rel=1e-4)
    assert result.status == "pass"


def test_update_ratio_flags_a_learning_rate_1000_times_too_large_and_a_tiny_one():
    x, y = _data()
    model = _model()
    _, ok = update_ratio(model, cross_entropy_loss, x, y, lambda ps: torch.optim.SGD(ps, lr=0.05))
    _, big = update_ratio(model, cross_entropy_loss, x, y, lambda ps: torch.optim.SGD(ps, lr=50.0))
    _, tiny = update_ratio(model, cross_entropy_loss, x, y, lambda ps: torch.optim.SGD(ps, lr=1e-9))
    assert ok.status == "pass" and big.status == "fail" and tiny.status == "warn"
    assert big.value == pytest.approx(1000 * ok.value, rel=1e-4)  # one SGD step is linear in lr


# --- overfit and the whole checklist ------------------------------------------------------------

def test_overfit_one_batch_does_not_touch_the_model():
    x, y = _data()
    model = _model()
    before = copy.deepcopy(model.state_dict())
    losses, result = overfit_one_batch(model, cross_entropy_loss, x[:16], y[:16], _adam, steps=100)
    assert len(losses) == 101 and result.status == "pass"
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])


@pytest.mark.parametrize("bug, failing", [
    (None, None), ("softmax", "overfit one batch"), ("zero_grad", "train step"),
    ("shuffled", "data"), ("lr", "update ratio"),
])
def test_run_checklist_names_the_first_failure(bug, failing):
    x, y = _data()
    loss, step, opt = cross_entropy_loss, default_train_step, _adam
    if bug == "softmax":
        loss = _softmax_loss
    elif bug == "zero_grad":
        step, opt = _no_zero_grad_step, (lambda ps: torch.optim.SGD(ps, lr=0.05))
    elif bug == "shuffled":
        y = y[torch.randperm(N, generator=torch.Generator().manual_seed(2))]
    elif bug == "lr":
        opt = lambda ps: torch.optim.Adam(ps, lr=3.0)  # noqa: E731  (1000x the healthy 3e-3)
    report = run_checklist(_model(), loss, x, y, num_classes=C, make_optimizer=opt, train_step=step,
                           overfit_steps=150)
    assert isinstance(report, ChecklistReport) and len(report.results) == 6
    if failing is None:
        assert report.passed and report.verdict.startswith("PASS")
    else:
        assert not report.passed and report.first_failure.name == failing
        assert failing in report.verdict and "FAIL" in str(report)


def test_device_and_dtype(device):
    x, y = _data(device=device, dtype=torch.float64)
    model = _model(device=device, dtype=torch.float64)
    report = run_checklist(model, cross_entropy_loss, x, y, num_classes=C, make_optimizer=_adam,
                           overfit_steps=100)
    assert report.passed
    assert next(model.parameters()).device.type == torch.device(device).type


@pytest.mark.parametrize("call, name", [
    (lambda x, y, m: check_data(x, y, 1), "num_classes"),
    (lambda x, y, m: check_data(x, y, C, max_samples=1), "max_samples"),
    (lambda x, y, m: check_initial_loss(m, cross_entropy_loss, x, y, C, rtol=-1.0), "rtol"),
    (lambda x, y, m: check_initial_loss("model", cross_entropy_loss, x, y, C), "model"),
    (lambda x, y, m: gradient_report(m, cross_entropy_loss, x, y, tiny=-1.0), "tiny"),
    (lambda x, y, m: update_ratio(m, cross_entropy_loss, x, y, _adam, low=1.0, high=0.1), "low"),
    (lambda x, y, m: overfit_one_batch(m, cross_entropy_loss, x, y, _adam, steps=0), "steps"),
    (lambda x, y, m: run_checklist(m, cross_entropy_loss, x, y, num_classes=C, make_optimizer=_adam,
                                   overfit_size=0), "overfit_size"),
    (lambda x, y, m: run_checklist(m, cross_entropy_loss, x, y, num_classes=C, make_optimizer=_adam,
                                   overfit_steps=0), "overfit_steps"),
    (lambda x, y, m: CheckResult("x", "maybe", None, ""), "status"),
])
def test_invalid_arguments_raise_naming_the_parameter(call, name):
    x, y = _data()
    with pytest.raises(ValueError, match=f"Invalid {name}"):
        call(x, y, _model())


def test_update_ratio_judges_weight_matrices_not_small_biases():
    x, y = _data()
    model = _model()
    with torch.no_grad():
        model[2].bias.fill_(1e-6)  # any step is huge relative to a near-zero bias
    ratios, result = update_ratio(model, cross_entropy_loss, x, y, _adam)
    assert ratios["2.bias"] > 1.0
    assert result.status == "pass" and result.value == max(ratios["0.weight"], ratios["2.weight"])
