"""Tests of nasrank.losses: every loss against a direct reference written with explicit
Python loops (float64, values and gradients), hand values, ties, permutation invariance,
the piecewise switch, the registry errors and a few training steps per loss."""

from __future__ import annotations

import math
from itertools import permutations

import pytest
import torch

from nasrank.errors import ConfigError, UnknownNameError
from nasrank.losses import LOSSES, Loss, LossContext, get_loss, loss_options
from nasrank.losses.renas import sample_triplets

NAMES = ["mse", "l1", "hr", "lr", "mse_sr", "listmle", "ew", "mape", "warp", "renas", "piecewise"]
DT = torch.float64


# -- references: explicit loops over samples, pairs and triplets ------------------------
def _softplus(z):
    return torch.log1p(torch.exp(z))


def _phi(z, kind, margin):
    return torch.clamp(margin - z, min=0.0) if kind == "hinge" else _softplus(-z)


def _sign(a: float) -> float:
    return (a > 0) - (a < 0)


def ref_mse(p, y, **_):
    return sum((p[i] - y[i]) ** 2 for i in range(len(p))) / len(p)


def ref_l1(p, y, **_):
    return sum(abs(p[i] - y[i]) for i in range(len(p))) / len(p)


def _pairs(p, y, kind, margin, ties=False):
    total, n = p.sum() * 0.0, 0
    for i in range(len(p)):
        for j in range(len(p)):
            if i == j or (y[i] == y[j] and not ties):
                continue
            s = _sign(float(y[i] - y[j]))
            total = total + _phi(s * (p[i] - p[j]), kind, margin)
            n += 1
    return total / max(n, 1)


def ref_hr(p, y, margin=0.1, **_):
    return _pairs(p, y, "hinge", margin)


def ref_lr(p, y, **_):
    return _pairs(p, y, "logistic", 0.0)


def _true_order(y):
    # stable sort by true accuracy, descending
    return sorted(range(len(y)), key=lambda i: -float(y[i]))


def ref_mse_sr(p, y, lam=1.0, **_):
    pi = _true_order(y)
    total, n = p.sum() * 0.0, 0
    for t in range(len(pi) - 1):
        a, b = pi[t], pi[t + 1]
        if y[a] > y[b]:
            total = total + _softplus(-(p[a] - p[b]))
            n += 1
    return ref_mse(p, y) + lam * total / max(n, 1)


def ref_listmle(p, y, **_):
    pi = _true_order(y)
    total = p.sum() * 0.0
    for i in range(len(pi)):
        denom = sum(torch.exp(p[pi[k]]) for k in range(i, len(pi)))
        total = total - torch.log(torch.exp(p[pi[i]]) / denom)
    return total / len(p)


def ref_ew(p, y, form="bogcn", **_):
    total = p.sum() * 0.0
    for i in range(len(p)):
        yi = float(y[i])
        w = (math.exp(yi) - 1) / (math.e - 1) if form == "bogcn" else math.exp(yi - 1)
        total = total + w * (y[i] - p[i]) ** 2
    return total / len(p)


def ref_mape(p, y, b=-0.1, **_):
    total = p.sum() * 0.0
    for i in range(len(p)):
        total = total + abs(((1 - p[i]) - b) / ((1 - y[i]) - b) - 1)
    return total / len(p)


def ref_warp(p, y, margin=1.0, weights="rank", normalise_rank=False, **_):
    total, n = p.sum() * 0.0, 0
    for i in range(len(p)):
        worse = [j for j in range(len(p)) if y[j] < y[i]]
        rank = sum(1 for j in worse if float(margin - (p[i] - p[j]).detach()) > 0)
        if weights == "accuracy":
            w = float(y[i])
        else:
            w = sum(1.0 / r for r in range(1, rank + 1))
            if normalise_rank and rank > 0:
                w /= rank
        for j in worse:
            total = total + w * torch.clamp(margin - (p[i] - p[j]), min=0.0)
            n += 1
    return total / max(n, 1)


def _dist(a, b):
    return torch.sqrt(((a - b) ** 2).sum())


def ref_continuity(f, y, kind, margin, triplets=None):
    b = len(y)
    if triplets is None:
        triplets = [
            (i, j, k) for i in range(b) for j in range(b) for k in range(b) if len({i, j, k}) == 3
        ]
    total, n = f.sum() * 0.0, 0
    for i, j, k in triplets:
        r_ij, r_ik = abs(float(y[i] - y[j])), abs(float(y[i] - y[k]))
        if r_ij == r_ik:
            continue
        z = _sign(r_ij - r_ik) * (_dist(f[i], f[j]) - _dist(f[i], f[k]))
        total = total + _phi(z, kind, margin)
        n += 1
    return total / max(n, 1)


def ref_renas(
    p,
    y,
    f,
    pairwise="hinge",
    margin=0.1,
    triplet_margin=0.1,
    lam=1.0,
    ties="exclude",
    triplets=None,
    **_,
):
    rank = _pairs(p, y, pairwise, margin, ties=ties == "include")
    return rank + lam * ref_continuity(f, y, pairwise, triplet_margin, triplets)


# (loss name, options, reference, reference kwargs, smooth?)
CASES = [
    ("mse", {}, ref_mse, {}, True),
    ("l1", {}, ref_l1, {}, True),
    ("hr", {}, ref_hr, {}, False),
    ("hr", {"margin": 0.5}, ref_hr, {"margin": 0.5}, False),
    ("lr", {}, ref_lr, {}, True),
    ("mse_sr", {}, ref_mse_sr, {}, True),
    ("mse_sr", {"lambda": 0.3}, ref_mse_sr, {"lam": 0.3}, True),
    ("listmle", {}, ref_listmle, {}, True),
    ("ew", {}, ref_ew, {}, True),
    ("ew", {"form": "exp"}, ref_ew, {"form": "exp"}, True),
    ("mape", {}, ref_mape, {}, True),
    ("mape", {"lower_bound": -0.5}, ref_mape, {"b": -0.5}, True),
    ("warp", {}, ref_warp, {}, False),
    ("warp", {"margin": 0.3}, ref_warp, {"margin": 0.3}, False),
    ("warp", {"normalise_rank": True}, ref_warp, {"normalise_rank": True}, False),
    ("warp", {"weights": "accuracy"}, ref_warp, {"weights": "accuracy"}, False),
]
RENAS_CASES = [
    ({}, {}, False),
    ({"pairwise": "logistic", "lambda": 0.5}, {"pairwise": "logistic", "lam": 0.5}, True),
    ({"ties": "include", "triplet_margin": 0.7}, {"ties": "include", "triplet_margin": 0.7}, False),
    ({"lambda": 0.0}, {"lam": 0.0}, False),
]


def _data(b=7, d=3, seed=0, ties=True):
    g = torch.Generator().manual_seed(seed)
    pred = torch.randn(b, generator=g, dtype=DT).mul(0.3).add(0.5).requires_grad_()
    target = torch.rand(b, generator=g, dtype=DT)
    if ties:
        target[1] = target[4]  # one tie inside the batch
    feats = torch.randn(b, d, generator=g, dtype=DT).requires_grad_()
    return pred, target, feats


def _grads(fn, *inputs):
    inputs = [x.detach().clone().requires_grad_() for x in inputs]
    out = fn(*inputs)
    grads = torch.autograd.grad(out, inputs, allow_unused=True)
    return out.detach(), grads


# -- registry ----------------------------------------------------------------------------
def test_registry_names_and_docs():
    assert list(LOSSES) == NAMES
    for name, cls in LOSSES.items():
        assert cls.name == name and issubclass(cls, Loss)
        doc = cls.__doc__ or ""
        assert "Formula" in doc and "Source" in doc, name
        assert isinstance(loss_options(name), dict)
    assert LOSSES["renas"].needs_features and not LOSSES["hr"].needs_features


def test_unknown_name_lists_all():
    with pytest.raises(UnknownNameError) as err:
        get_loss("hinge")
    msg = str(err.value)
    assert "'hinge'" in msg and all(n in msg for n in NAMES)
    with pytest.raises(KeyError):
        loss_options("nope")


def test_unknown_option_names_loss_and_option():
    with pytest.raises(ConfigError, match=r"'hr'.*'margn'"):
        get_loss("hr", margn=0.2)
    with pytest.raises(ConfigError, match=r"'mse'.*'margin'"):
        get_loss("mse", margin=0.2)
    with pytest.raises(ConfigError, match=r"'warp'.*'weights'"):
        get_loss("warp", weights="ranks")
    with pytest.raises(ConfigError, match=r"'mape'.*'lower_bound'"):
        get_loss("mape", lower_bound=0.0)
    with pytest.raises(ConfigError, match=r"'ew'.*'form'"):
        get_loss("ew", form="log")
    with pytest.raises(ConfigError, match=r"'renas'.*'max_triplets'"):
        get_loss("renas", max_triplets=0)
    # piecewise: exactly one switch, sub-options validated by the sub-loss
    with pytest.raises(ConfigError, match="switch_samples"):
        get_loss("piecewise")
    with pytest.raises(ConfigError, match=r"switch_samples.*switch_epoch"):
        get_loss("piecewise", switch_samples=10, switch_epoch=3)
    with pytest.raises(ConfigError, match=r"'hr'.*'m'"):
        get_loss("piecewise", switch_epoch=3, first_options={"m": 1})
    with pytest.raises(UnknownNameError):
        get_loss("piecewise", switch_epoch=3, second="mapee")


def test_loss_options_are_documented_defaults():
    assert loss_options("hr") == {"margin": 0.1}
    assert loss_options("mse_sr") == {"lambda": 1.0}
    assert loss_options("warp")["weights"] == "rank"
    assert loss_options("renas")["pairwise"] == "hinge"
    opts = loss_options("piecewise")
    opts["first_options"]["x"] = 1  # a copy: the defaults are not changed
    assert loss_options("piecewise")["first_options"] == {}
    for name in NAMES:
        if name != "piecewise":
            assert get_loss(name, **loss_options(name)).options == loss_options(name)


# -- against the references --------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "opts", "ref", "ref_kw", "smooth"),
    CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)],
)
@pytest.mark.parametrize("seed", [0, 1])
def test_against_reference(name, opts, ref, ref_kw, smooth, seed):
    pred, target, _ = _data(seed=seed)
    loss = get_loss(name, **opts)
    val, (grad,) = _grads(lambda p: loss(p, target), pred)
    ref_val, (ref_grad,) = _grads(lambda p: ref(p, target, **ref_kw), pred)
    torch.testing.assert_close(val, ref_val, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-10, atol=1e-12)
    if smooth:
        assert torch.autograd.gradcheck(lambda p: loss(p, target), (pred,))


@pytest.mark.parametrize(("opts", "ref_kw", "smooth"), RENAS_CASES)
def test_renas_against_reference(opts, ref_kw, smooth):
    pred, target, feats = _data(b=6, d=3, seed=2)
    loss = get_loss("renas", **opts)
    val, grads = _grads(lambda p, f: loss(p, target, f), pred, feats)
    ref_val, ref_grads = _grads(lambda p, f: ref_renas(p, target, f, **ref_kw), pred, feats)
    torch.testing.assert_close(val, ref_val, rtol=1e-10, atol=1e-12)
    for g, rg in zip(grads, ref_grads, strict=True):
        if g is None or rg is None:  # unused input (lambda = 0): no or a zero gradient
            assert all(x is None or torch.count_nonzero(x) == 0 for x in (g, rg))
        else:
            torch.testing.assert_close(g, rg, rtol=1e-10, atol=1e-12)
    if smooth:
        assert torch.autograd.gradcheck(lambda p, f: loss(p, target, f), (pred, feats))


@pytest.mark.parametrize("all_pairs", [True, False])
def test_renas_sampled_triplets_match_reference(all_pairs: bool,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Both ways to the triplets' distances (all B x B pairs of a small batch, or only the
    triplets' rows of a large one) give the reference's value and gradients."""
    import nasrank.losses.renas as renas

    monkeypatch.setattr(renas, "ALL_PAIRS_MAX", 2**24 if all_pairs else 0)
    pred, target, feats = _data(b=12, d=4, seed=3)
    loss = get_loss("renas", max_triplets=200, seed=7)
    trip = loss.triplets(12, torch.device("cpu"))  # the triplets the next call will use
    assert trip is not None and trip.shape == (200, 3)
    assert bool(
        ((trip[:, 0] != trip[:, 1]) & (trip[:, 0] != trip[:, 2]) & (trip[:, 1] != trip[:, 2])).all()
    )
    val, grads = _grads(lambda p, f: loss(p, target, f), pred, feats)
    ref_val, ref_grads = _grads(
        lambda p, f: ref_renas(p, target, f, triplets=[tuple(t) for t in trip.tolist()]),
        pred,
        feats,
    )
    torch.testing.assert_close(val, ref_val, rtol=1e-10, atol=1e-12)
    for g, rg in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(g, rg, rtol=1e-10, atol=1e-12)
    # reproducible for a seed, different from one call to the next
    again = get_loss("renas", max_triplets=200, seed=7)
    assert torch.equal(again.triplets(12, torch.device("cpu")), trip)
    assert not torch.equal(loss.triplets(12, torch.device("cpu")), trip)


def test_sample_triplets_uniform_over_distinct():
    trip = sample_triplets(4, 48_000, torch.Generator().manual_seed(0))
    assert bool(
        (trip[:, 0] != trip[:, 1]).all()
        & (trip[:, 0] != trip[:, 2]).all()
        & (trip[:, 1] != trip[:, 2]).all()
    )
    counts = torch.bincount(trip[:, 0] * 16 + trip[:, 1] * 4 + trip[:, 2], minlength=64)
    seen = counts[counts > 0]
    assert len(seen) == 24  # all 4*3*2 ordered triplets, about 2000 each
    assert int(seen.min()) > 1700 and int(seen.max()) < 2300


def test_renas_large_batch_is_tractable():
    g = torch.Generator().manual_seed(0)
    pred = torch.randn(1024, generator=g, requires_grad=True)
    feats = torch.randn(1024, 84, generator=g, requires_grad=True)
    target = torch.rand(1024, generator=g)
    out = get_loss("renas")(pred, target, feats)
    out.backward()
    assert torch.isfinite(out) and torch.isfinite(feats.grad).all()


# -- hand values ---------------------------------------------------------------------------
def test_hand_values():
    y = torch.tensor([1.0, 0.0], dtype=DT)
    p = torch.tensor([0.3, 0.5], dtype=DT, requires_grad=True)
    hr = get_loss("hr")(p, y)  # both ordered pairs: max(0, 0.1 - (0.3 - 0.5)) = 0.3
    assert hr.item() == pytest.approx(0.3)
    hr.backward()
    assert p.grad.tolist() == pytest.approx([-1.0, 1.0])
    assert get_loss("hr")(torch.tensor([0.5, 0.3]), y.float()).item() == 0.0  # margin met
    assert get_loss("hr")(torch.tensor([0.35, 0.3]), y.float()).item() == pytest.approx(0.05)
    assert get_loss("lr")(torch.zeros(2), y).item() == pytest.approx(math.log(2))
    a, b = 0.2, 0.7  # ListMLE: item 0 is the better one
    expected = (math.log(math.exp(a) + math.exp(b)) - a) / 2
    assert get_loss("listmle")(torch.tensor([a, b]), y).item() == pytest.approx(expected)
    # EW (bogcn): weight 1 at y = 1, 0 at y = 0
    assert get_loss("ew")(torch.tensor([0.5, 0.5]), y).item() == pytest.approx(0.25 / 2)
    assert get_loss("ew", form="exp")(torch.tensor([0.5, 0.5]), y).item() == pytest.approx(
        (0.25 + math.exp(-1) * 0.25) / 2
    )
    # MAPE, b = -0.1: |y - p| / (1.1 - y)
    assert get_loss("mape")(torch.tensor([0.5, 0.5]), y).item() == pytest.approx(
        (0.5 / 0.1 + 0.5 / 1.1) / 2
    )
    assert get_loss("mape")(y.clone(), y).item() == 0.0
    # WARP: one pair, violated (hinge 1), rank 1, L(1) = 1
    assert get_loss("warp")(torch.zeros(2), y).item() == pytest.approx(1.0)
    # three items in the right order with gaps 0.4: each hinge is 1 - gap
    y3 = torch.tensor([1.0, 0.5, 0.0])
    p3 = torch.tensor([0.8, 0.4, 0.0])
    # i=0: worse 1 (h .6), 2 (h .2): r=2, L=1.5;  i=1: worse 2 (h .6): r=1, L=1
    expected = (1.5 * (0.6 + 0.2) + 1.0 * 0.6) / 3
    assert get_loss("warp")(p3, y3).item() == pytest.approx(expected)
    acc = (1.0 * (0.6 + 0.2) + 0.5 * 0.6) / 3
    assert get_loss("warp", weights="accuracy")(p3, y3).item() == pytest.approx(acc)
    # MSE+SR: consecutive pairs (0, 1), (1, 2) only
    sr = (math.log1p(math.exp(-0.4)) * 2) / 2
    mse = (0.2**2 + 0.1**2) / 3
    assert get_loss("mse_sr")(p3, y3).item() == pytest.approx(mse + sr)


def test_ties_are_ignored():
    y = torch.tensor([0.2, 0.2, 0.2], dtype=DT)
    for name in ("hr", "lr", "warp", "mse_sr"):
        p = torch.tensor([0.9, 0.1, 0.5], dtype=DT, requires_grad=True)
        out = get_loss(name)(p, y) - (get_loss("mse")(p, y) if name == "mse_sr" else 0.0)
        assert out.item() == 0.0 and out.grad_fn is not None
    # a tie adds nothing: the mean runs over the untied pairs only
    y = torch.tensor([1.0, 0.0, 0.0])
    p = torch.tensor([0.0, 0.5, 0.2])
    hr = get_loss("hr")(p, y).item()
    assert hr == pytest.approx(((0.1 + 0.5) + (0.1 + 0.2)) / 2)  # 4 ordered pairs / 4
    assert get_loss("lr")(p, y).item() == pytest.approx(
        (math.log1p(math.exp(0.5)) + math.log1p(math.exp(0.2))) / 2
    )


@pytest.mark.parametrize(
    "name", ["hr", "lr", "warp", "listmle", "mse_sr", "renas", "mse", "mape", "ew", "l1"]
)
def test_permutation_invariance(name):
    pred, target, feats = _data(b=6, seed=4, ties=name not in ("listmle", "mse_sr"))
    loss = get_loss(name)
    base = loss(pred, target, feats)
    for perm in list(permutations(range(6)))[1::97]:
        idx = torch.tensor(perm)
        torch.testing.assert_close(loss(pred[idx], target[idx], feats[idx]), base)


def test_listmle_stable_for_large_scores():
    y = torch.tensor([0.9, 0.1, 0.5])
    p = torch.tensor([1000.0, -1000.0, 0.0], requires_grad=True)
    out = get_loss("listmle")(p, y)
    out.backward()
    assert torch.isfinite(out) and torch.isfinite(p.grad).all()
    assert out.item() == pytest.approx(0.0, abs=1e-6)
    p2 = torch.tensor([-1000.0, 1000.0, 0.0])
    assert get_loss("listmle")(p2, y).item() == pytest.approx(3000.0 / 3, rel=1e-6)


# -- piecewise -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "field"), [("switch_samples", "train_size"), ("switch_epoch", "epoch")]
)
def test_piecewise_switches_exactly_at_threshold(key, field):
    pred, target, _ = _data(seed=5)
    loss = get_loss(
        "piecewise", first="hr", second="mape", second_options={"lower_bound": -0.2}, **{key: 50}
    )
    hr, mape = get_loss("hr"), get_loss("mape", lower_bound=-0.2)
    assert hr(pred, target) != mape(pred, target)
    for value, expected in ((0, hr), (49, hr), (50, mape), (51, mape)):
        ctx = LossContext(**{field: value})
        assert loss.active(ctx) is (loss.second if expected is mape else loss.first)
        assert torch.equal(loss(pred, target, ctx=ctx), expected(pred, target))
    other = "epoch" if field == "train_size" else "train_size"
    assert torch.equal(
        loss(pred, target, ctx=LossContext(**{other: 10**6})), hr(pred, target)
    )  # the other counter is ignored
    with pytest.raises(ValueError, match="ctx"):
        loss(pred, target)


def test_piecewise_with_renas_needs_features():
    loss = get_loss(
        "piecewise",
        first="listmle",
        second="renas",
        switch_epoch=2,
        second_options={"pairwise": "logistic"},
    )
    assert loss.needs_features
    pred, target, feats = _data(b=5, seed=6)
    ref = get_loss("renas", pairwise="logistic")(pred, target, feats)
    torch.testing.assert_close(loss(pred, target, feats, LossContext(epoch=2)), ref)


# -- edge cases ------------------------------------------------------------------------------
def _make(name):
    return get_loss(name, switch_epoch=1) if name == "piecewise" else get_loss(name)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("b", [1, 2, 3])
def test_small_and_tied_batches_are_nan_free(name, b):
    loss = _make(name)
    for target in (torch.linspace(0, 1, b), torch.full((b,), 0.4)):
        pred = torch.linspace(0.2, 0.6, b).requires_grad_()
        feats = torch.ones(b, 4, requires_grad=True)  # identical features: distance 0
        out = loss(pred, target, feats, LossContext())
        assert out.ndim == 0 and torch.isfinite(out) and out.grad_fn is not None
        out.backward()
        assert torch.isfinite(pred.grad).all()
        assert feats.grad is None or torch.isfinite(feats.grad).all()


def test_bad_shapes_and_missing_features():
    with pytest.raises(ValueError, match="1-D"):
        get_loss("mse")(torch.zeros(3, 1), torch.zeros(3, 1))
    with pytest.raises(ValueError, match="target shape"):
        get_loss("hr")(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError, match="features"):
        get_loss("renas")(torch.zeros(3), torch.zeros(3))


# -- every loss trains ------------------------------------------------------------------------
TRAIN_OPTS = {"piecewise": {"switch_samples": 32}, "renas": {"max_triplets": 40_000}}


@pytest.mark.parametrize("name", NAMES)
def test_tiny_model_trains(name):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(32, 5, generator=g)
    acc = torch.sigmoid(x @ torch.tensor([1.0, -2.0, 0.5, 0.0, 1.5]))
    y = (acc - acc.min()) / (acc.max() - acc.min())
    body, head = torch.nn.Linear(5, 8), torch.nn.Linear(8, 1)
    loss = get_loss(name, **TRAIN_OPTS.get(name, {}))
    ctx = LossContext(epoch=0, train_size=32)
    opt = torch.optim.Adam([*body.parameters(), *head.parameters()], lr=0.02)

    def step() -> float:
        feats = body(x)
        out = loss(head(feats).squeeze(1), y, feats, ctx)
        opt.zero_grad()
        out.backward()
        grads = [p.grad for p in (*body.parameters(), *head.parameters())]
        assert any(gr is not None and gr.abs().sum() > 0 for gr in grads)
        opt.step()
        return out.item()

    losses = [step() for _ in range(30)]
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < 0.9 * losses[0], losses
