"""Tests of course_lib.generalization against brute force, hand computations and PyTorch."""

import itertools
import math

import pytest
import torch

from course_lib.devices import available_devices
from course_lib.generalization import (
    ModularMLP, first_step_reaching, group_accuracies, group_dro_weights, group_losses,
    modular_dataset, reset_optimizer_state, spurious_dataset, train_full_batch,
    train_linear_classifier, train_minibatch,
)


@pytest.mark.parametrize("op, fn", [("add", lambda a, b: a + b), ("sub", lambda a, b: a - b),
                                    ("mul", lambda a, b: a * b)])
def test_modular_labels_and_partition_by_brute_force(op, fn):
    p = 7
    s = modular_dataset(p, op=op, train_fraction=0.3, seed=3)
    pairs = [tuple(r) for r in torch.cat([s.x_train, s.x_val]).tolist()]
    assert sorted(pairs) == list(itertools.product(range(p), repeat=2))  # every pair exactly once
    assert len(s.x_train) == round(0.3 * 49)
    for (a, b), y in zip(pairs, torch.cat([s.y_train, s.y_val]).tolist()):
        assert y == fn(a, b) % p


def test_split_is_reproducible_and_seed_dependent():
    a, b, c = (modular_dataset(11, seed=s) for s in (0, 0, 1))
    assert torch.equal(a.x_train, b.x_train)
    assert not torch.equal(a.x_train, c.x_train)


def test_training_is_reproducible_and_history_shape():
    def run():
        s = modular_dataset(13, train_fraction=0.5, seed=0)
        m = ModularMLP(13, embed_dim=8, hidden=16, seed=1)
        opt = torch.optim.AdamW(m.parameters(), lr=1e-2, weight_decay=1.0)
        return train_full_batch(m, opt, s, steps=25, eval_every=10)
    h1, h2 = run(), run()
    assert h1 == h2
    assert h1["step"] == [0, 10, 20, 24]


class _RecordInputs(torch.nn.Module):
    """A ModularMLP that remembers the pairs of every forward pass in training mode."""

    def __init__(self, p):
        super().__init__()
        self.net, self.seen = ModularMLP(p, embed_dim=4, hidden=8, seed=0), []

    def forward(self, x):
        if self.training:
            self.seen.append(x.clone())
        return self.net(x)


def test_minibatches_use_every_pair_once_per_epoch():
    s = modular_dataset(7, train_fraction=0.5, seed=0)  # 24 training pairs
    m = _RecordInputs(7)
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    train_minibatch(m, opt, s, steps=10, batch_size=5, seed=3)  # two epochs of 5 batches
    sizes = [len(x) for x in m.seen]
    assert sizes == [5, 5, 5, 5, 4] * 2
    train_set = sorted(map(tuple, s.x_train.tolist()))
    for epoch in (m.seen[:5], m.seen[5:]):
        assert sorted(map(tuple, torch.cat(epoch).tolist())) == train_set
    assert not torch.equal(torch.cat(m.seen[:5]), torch.cat(m.seen[5:]))  # reshuffled


def test_minibatch_order_depends_on_the_seed_only():
    def order(seed):
        s = modular_dataset(7, train_fraction=0.5, seed=0)
        m = _RecordInputs(7)
        train_minibatch(m, torch.optim.SGD(m.parameters(), lr=0.1), s, steps=6, batch_size=5,
                        seed=seed)
        return torch.cat(m.seen)
    assert torch.equal(order(3), order(3))
    assert not torch.equal(order(3), order(4))


def test_minibatch_as_large_as_the_training_set_is_full_batch():
    def run(train):
        s = modular_dataset(11, train_fraction=0.5, seed=0)
        m = ModularMLP(11, embed_dim=8, hidden=16, seed=1)
        return train(m, torch.optim.AdamW(m.parameters(), lr=1e-2, weight_decay=1.0), s)
    full = run(lambda m, o, s: train_full_batch(m, o, s, steps=30, eval_every=10))
    large = run(lambda m, o, s: train_minibatch(m, o, s, steps=30, batch_size=1000, eval_every=10))
    small = run(lambda m, o, s: train_minibatch(m, o, s, steps=30, batch_size=8, eval_every=10))
    assert full == large
    assert full["train_loss"] != small["train_loss"]


def test_dropout_is_on_in_training_and_off_when_accuracies_are_recorded():
    s = modular_dataset(11, train_fraction=0.5, seed=0)
    m = ModularMLP(11, embed_dim=8, hidden=64, seed=0, dropout=0.5)
    m.train()
    assert not torch.equal(m(s.x_train), m(s.x_train))  # a fresh mask at each call
    m.eval()
    before = (m(s.x_train).argmax(1) == s.y_train).float().mean().item()
    h = train_full_batch(m, torch.optim.SGD(m.parameters(), lr=0.0), s, steps=3, eval_every=1)
    assert h["train_acc"] == [before] * 3  # lr 0: the recorded accuracy is the eval-mode one
    assert not m.training  # handed back in the mode it came in
    m.train()
    train_full_batch(m, torch.optim.SGD(m.parameters(), lr=0.0), s, steps=1)
    assert m.training


def test_model_forward_matches_manual_computation():
    m = ModularMLP(5, embed_dim=3, hidden=4, seed=0, dtype=torch.float64)
    x = torch.tensor([[1, 4], [0, 2]])
    e = torch.cat([m.embed.weight[x[:, 0]], m.embed.weight[x[:, 1]]], dim=1)
    manual = torch.relu(e @ m.hidden.weight.T + m.hidden.bias) @ m.out.weight.T + m.out.bias
    torch.testing.assert_close(m(x), manual)


def test_train_accuracy_and_first_step():
    s = modular_dataset(11, train_fraction=0.5, seed=0)
    m = ModularMLP(11, embed_dim=8, hidden=32, seed=0)
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    h = train_full_batch(m, opt, s, steps=300, eval_every=10)
    assert h["train_acc"][-1] == 1.0            # 60 pairs are easy to memorise
    step = first_step_reaching(h, "train_acc", 1.0)
    i = h["step"].index(step)
    assert h["train_acc"][i] == 1.0 and all(v < 1.0 for v in h["train_acc"][:i])
    assert first_step_reaching(h, "train_acc", 2.0) is None


def test_on_step_can_replace_optimizer_and_reset_state():
    s = modular_dataset(7, train_fraction=0.5, seed=0)
    m = ModularMLP(7, embed_dim=4, hidden=8, seed=0)
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    seen = []

    def hook(t, o):
        seen.append((t, len(o.state)))
        if t == 3:
            return reset_optimizer_state(o)
    train_full_batch(m, opt, s, steps=5, on_step=hook)
    assert seen == [(0, 0), (1, 5), (2, 5), (3, 5), (4, 5)]   # 5 parameters, state after step 0
    # cleared before step 3, so Adam's step count restarted: steps 3 and 4 only, not 5
    assert len(opt.state) == 5 and int(opt.state[m.out.bias]["step"]) == 2


def test_lr_schedule_is_applied():
    s = modular_dataset(5, seed=0)
    m = ModularMLP(5, embed_dim=2, hidden=2, seed=0)
    opt = torch.optim.SGD(m.parameters(), lr=1.0)
    train_full_batch(m, opt, s, steps=3, lr_schedule=lambda t: 0.1 * (t + 1))
    assert opt.param_groups[0]["lr"] == pytest.approx(0.3)


def test_group_dro_weights_hand_computation():
    q = torch.tensor([0.25, 0.25, 0.5], dtype=torch.float64)
    losses = torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)
    eta = 0.7
    un = [0.25 * math.exp(0.7), 0.25 * math.exp(1.4), 0.5 * math.exp(0.35)]
    expected = torch.tensor([u / sum(un) for u in un], dtype=torch.float64)
    torch.testing.assert_close(group_dro_weights(q, losses, eta), expected)
    # eta = 0 leaves normalised weights unchanged; huge eta*loss does not overflow
    torch.testing.assert_close(group_dro_weights(q, losses, 0.0), q)
    big = group_dro_weights(q, torch.tensor([1e4, 0.0, 0.0], dtype=torch.float64), 1.0)
    torch.testing.assert_close(big, torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64))


def test_group_losses_and_accuracies_brute_force():
    losses = torch.tensor([1.0, 2.0, 3.0, 5.0])
    group = torch.tensor([0, 0, 2, 2])
    torch.testing.assert_close(group_losses(losses, group, 3), torch.tensor([1.5, 0.0, 4.0]))
    pred, y = torch.tensor([1, 0, 1, 1]), torch.tensor([1, 1, 1, 0])
    acc = group_accuracies(pred, y, group, 3)
    assert acc["average"] == 0.5 and acc["worst"] == 0.5 and acc["per_group"] == [0.5, 0.0, 0.5]


def test_spurious_dataset_groups():
    d = spurious_dataset(4000, minority_fraction=0.1, seed=0)
    s = d.group % 2
    assert torch.equal(d.group // 2, d.y)
    assert abs(float((s != d.y).float().mean()) - 0.1) < 0.02
    # the spurious coordinate has the sign of s, the core one is noisy
    assert torch.equal((d.x[:, 1] > 0).long(), s)
    assert 0.75 < float(((d.x[:, 0] > 0).long() == d.y).float().mean()) < 0.9


def test_group_dro_beats_erm_on_worst_group():
    train, test = spurious_dataset(1000, seed=0), spurious_dataset(2000, seed=1)
    out = {}
    for method in ("erm", "group_dro"):
        model, q = train_linear_classifier(train, method=method, steps=800, lr=0.5)
        with torch.no_grad():
            pred = (model(test.x).squeeze(1) > 0).long()
        out[method] = group_accuracies(pred, test.y, test.group, 4)
    assert out["erm"]["worst"] < 0.5 < 0.7 < out["group_dro"]["worst"]
    assert out["erm"]["average"] > out["group_dro"]["average"]


def test_erm_objective_matches_pytorch_logistic_regression_gradient_descent():
    d = spurious_dataset(200, seed=2, dtype=torch.float64)
    model, q = train_linear_classifier(d, method="erm", steps=5, lr=0.3, weight_decay=0.1)
    w = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    for _ in range(5):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(d.x @ w + b, d.y.double()) + 0.05 * w @ w
        gw, gb = torch.autograd.grad(loss, [w, b])
        with torch.no_grad():
            w -= 0.3 * gw
            b -= 0.3 * gb
    torch.testing.assert_close(model.weight.detach().squeeze(0), w.detach())
    torch.testing.assert_close(q, torch.full((4,), 0.25, dtype=torch.float64))


@pytest.mark.parametrize("device", available_devices())
def test_devices_and_dtype(device):
    s = modular_dataset(7, seed=0, device=device)
    m = ModularMLP(7, embed_dim=4, hidden=8, seed=0, device=device, dtype=torch.float64)
    assert s.x_train.device.type == torch.device(device).type
    assert m(s.x_train).dtype == torch.float64
    d = spurious_dataset(50, seed=0, device=device, dtype=torch.float64)
    model, q = train_linear_classifier(d, method="group_dro", steps=3)
    assert q.device.type == torch.device(device).type and q.dtype == torch.float64


@pytest.mark.parametrize("call, name", [
    (lambda: modular_dataset(1), "p"),
    (lambda: modular_dataset(7, op="div"), "op"),
    (lambda: modular_dataset(7, train_fraction=1.0), "train_fraction"),
    (lambda: ModularMLP(7, hidden=0), "hidden"),
    (lambda: ModularMLP(7, dropout=1.0), "dropout"),
    (lambda: train_minibatch(None, None, modular_dataset(5), steps=3, batch_size=0), "batch_size"),
    (lambda: train_minibatch(None, None, modular_dataset(5), steps=3, batch_size=2, seed=-1), "seed"),
    (lambda: spurious_dataset(10, minority_fraction=0.0), "minority_fraction"),
    (lambda: spurious_dataset(10, core_noise=-1.0), "core_noise"),
    (lambda: group_dro_weights(torch.ones(2), torch.ones(2), -0.1), "eta"),
    (lambda: group_dro_weights(torch.tensor([-1.0, 2.0]), torch.ones(2), 0.1), "q"),
    (lambda: train_linear_classifier(spurious_dataset(10), method="irm"), "method"),
    (lambda: train_full_batch(None, None, modular_dataset(5), steps=0), "steps"),
    (lambda: train_linear_classifier(spurious_dataset(10), n_groups=0), "n_groups"),
    (lambda: group_losses(torch.ones(3), torch.tensor([0, 1, 4]), 4), "group"),
])
def test_validation_names_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()
