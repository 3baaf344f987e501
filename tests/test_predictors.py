"""Predictors: shapes on every NB101/NB201 encoding, LeNet's parameter count, GCN masking
and permutation invariance, determinism, tree fits, and error cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nasrank.encodings import available, get_encoding
from nasrank.errors import ConfigError, UnknownNameError
from nasrank.predictors import (
    PREDICTORS,
    check_input,
    compatible,
    count_parameters,
    get_predictor,
)

ENCODINGS = [(b, n) for b in ("nb101", "nb201") for n in available(b)]
TORCH = [n for n, s in PREDICTORS.items() if s.kind == "torch"]
TREES = [n for n, s in PREDICTORS.items() if s.kind == "tree"]
#: tree-kind predictors that need the gcn layout (the others take any encoding)
GCN_TREES = ("bonas", "nao", "seminas")
FLAT_TREES = [n for n in TREES if n not in GCN_TREES]
TORCH_PAIRS = [
    (p, b, n)
    for p in TORCH
    for b, n in ENCODINGS
    if compatible(p, get_encoding(b, n).shape, get_encoding(b, n).layout)
]
FAST_TREE = {"rf": {"n_estimators": 20}, "xgb": {"n_estimators": 30}, "gp": {},
             "lightgbm": {"n_estimators": 60}, "blr": {}, "ngboost": {"n_estimators": 100},
             "dngo": {"epochs": 100}, "bananas": {"epochs": 100, "lower_bound": -10.0},
             "bohamiann": {"steps": 1500, "burn_in": 500}, "sparse_gp": {},
             "var_sparse_gp": {}}
TINY_TREE = {"rf": {"n_estimators": 5}, "xgb": {"n_estimators": 5}, "gp": {},
             "lightgbm": {"n_estimators": 5}, "blr": {}, "ngboost": {"n_estimators": 5},
             "dngo": {"epochs": 2}, "bananas": {"epochs": 2, "layers": 2, "lower_bound": -1.0},
             "bonas": {"epochs": 2, "hidden": 8}, "sparse_gp": {"steps": 5},
             "bohamiann": {"steps": 20, "burn_in": 10, "keep_every": 5},
             "var_sparse_gp": {"steps": 5}, "nao": {"pretrain_epochs": 2, "hidden": 8},
             "seminas": {"pretrain_epochs": 2, "epochs": 1, "hidden": 8}}
TREE_PACKAGE = {"rf": "sklearn", "xgb": "xgboost", "gp": "sklearn", "lightgbm": "lightgbm",
                "blr": "sklearn", "ngboost": "ngboost", "dngo": "sklearn",
                "bananas": "torch", "bonas": "sklearn", "bohamiann": "torch",
                "sparse_gp": "gpytorch", "var_sparse_gp": "gpytorch", "nao": "torch",
                "seminas": "torch"}


def random_gcn_input(
    batch: int, shape: tuple[int, int], layout: dict, generator: torch.Generator
) -> torch.Tensor:
    """Valid packed gcn inputs: first and last node real, others real with prob. 0.7,
    a random upper-triangular adjacency among real nodes, one op per real node."""
    v, width = shape
    x = torch.zeros(batch, v, width)
    mask = (torch.rand(batch, v, generator=generator) < 0.7).float()
    mask[:, 0] = mask[:, -1] = 1
    adj = (torch.rand(batch, v, v, generator=generator) < 0.4).float().triu(1)
    adj = adj * mask[:, :, None] * mask[:, None, :]
    o0, o1 = layout["ops"]
    op = torch.randint(0, o1 - o0, (batch, v), generator=generator)
    x[..., slice(*layout["adjacency"])] = adj
    x[..., o0:o1] = torch.nn.functional.one_hot(op, o1 - o0).float() * mask[..., None]
    x[..., layout["mask"][0]] = mask
    return x


def make_input(name: str, enc, batch: int = 5, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    if name == "gcn":
        return random_gcn_input(batch, enc.shape, enc.layout, g)
    return torch.rand(batch, *enc.shape, generator=g)


def test_registry_kinds():
    assert set(PREDICTORS) == {"lenet", "mlp", "gcn", "rf", "xgb", "gp", "lightgbm", "blr",
                               "ngboost", "dngo", "bananas", "bonas", "bohamiann",
                               "sparse_gp", "var_sparse_gp", "nao", "seminas"}
    for name, spec in PREDICTORS.items():
        assert spec.uses_loss == (spec.kind == "torch"), name


@pytest.mark.parametrize(("bench", "enc_name"), ENCODINGS)
def test_compatibility(bench, enc_name):
    enc = get_encoding(bench, enc_name)
    assert compatible("lenet", enc.shape, enc.layout) == (enc_name in {"renas_tensor",
                                                                        "type_matrix"})
    assert compatible("gcn", enc.shape, enc.layout) == (enc_name == "gcn")
    for name in GCN_TREES:
        assert compatible(name, enc.shape, enc.layout) == (enc_name == "gcn")
    for name in ("mlp", *FLAT_TREES):
        assert compatible(name, enc.shape, enc.layout)


@pytest.mark.parametrize(("name", "bench", "enc_name"), TORCH_PAIRS)
def test_torch_output_shapes(name, bench, enc_name):
    enc = get_encoding(bench, enc_name)
    torch.manual_seed(0)
    net = get_predictor(name, enc.shape, enc.layout)
    assert net.kind == "torch" and net.uses_loss is True
    x = make_input(name, enc, batch=5)
    net.train()
    pred, feats = net(x)
    assert pred.shape == (5,)
    assert feats.shape == (5, net.feature_dim)
    net.eval()
    with torch.no_grad():
        pred, feats = net(x)
    assert torch.isfinite(pred).all() and torch.isfinite(feats).all()
    # gradients flow to every parameter
    net.train()
    net.zero_grad()
    p, f = net(x)
    (p.sum() + f.sum()).backward()
    assert all(q.grad is not None for q in net.parameters())


def test_feature_dims():
    torch.manual_seed(0)
    assert get_predictor("lenet", (19, 7, 7)).feature_dim == 84
    assert get_predictor("mlp", (36,), hidden=[64, 32]).feature_dim == 32
    enc = get_encoding("nb101", "gcn")
    assert get_predictor("gcn", enc.shape, enc.layout, hidden=50).feature_dim == 50


def _lenet_hand_count(c_in: int, h: int, w: int) -> int:
    return (c_in * 38 * 9 + 2 * 38 + 38 * 128 * 9 + 2 * 128
            + 128 * h * w * 120 + 120 + 120 * 84 + 84 + 84 + 1)


def test_lenet_parameter_count():
    net = get_predictor("lenet", (19, 7, 7))
    assert count_parameters(net) == _lenet_hand_count(19, 7, 7) == 813_615
    assert net.fc[0].in_features == 6272
    assert count_parameters(get_predictor("lenet", (1, 7, 7))) == _lenet_hand_count(1, 7, 7)
    assert count_parameters(get_predictor("lenet", (31, 8, 8))) == _lenet_hand_count(31, 8, 8)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(c.bias is None and c.padding == (1, 1) for c in convs)


def test_gcn_parameter_count():
    enc = get_encoding("nb101", "gcn")
    net = get_predictor("gcn", enc.shape, enc.layout)
    n_ops = 5
    assert count_parameters(net) == 2 * n_ops * 144 + 3 * 2 * 144 * 144 + 144 + 1
    naslib_head = get_predictor("gcn", enc.shape, enc.layout, head_hidden=128)
    assert count_parameters(naslib_head) == 2 * n_ops * 144 + 3 * 2 * 144 * 144 + 144 * 128 + 128


@pytest.mark.parametrize("bench", ["nb101", "nb201"])
@pytest.mark.parametrize("normalization", ["mean", "naslib"])
def test_gcn_ignores_padded_nodes(bench, normalization):
    enc = get_encoding(bench, "gcn")
    torch.manual_seed(1)
    net = get_predictor("gcn", enc.shape, enc.layout, normalization=normalization).eval()
    g = torch.Generator().manual_seed(2)
    x = random_gcn_input(16, enc.shape, enc.layout, g)
    pad = x[..., enc.layout["mask"][0]] == 0
    assert pad.any()
    y = x.clone()
    # rewrite every feature of padded nodes: adjacency rows and columns, ops
    a0, a1 = enc.layout["adjacency"]
    noise = torch.rand(x.shape, generator=g)
    keep_mask = torch.zeros(x.shape[-1], dtype=torch.bool)
    keep_mask[enc.layout["mask"][0]] = True
    y[pad] = torch.where(keep_mask, y[pad], noise[pad])
    col = y[..., a0:a1]
    col[pad.unsqueeze(1).expand_as(col)] = 1.0  # edges into padded nodes
    with torch.no_grad():
        p1, f1 = net(x)
        p2, f2 = net(y)
    assert not torch.equal(x, y)
    torch.testing.assert_close(p1, p2)
    torch.testing.assert_close(f1, f2)


@pytest.mark.parametrize("bench", ["nb101", "nb201"])
@pytest.mark.parametrize("normalization", ["mean", "naslib"])
def test_gcn_permutation_invariance(bench, normalization):
    enc = get_encoding(bench, "gcn")
    torch.manual_seed(3)
    net = get_predictor("gcn", enc.shape, enc.layout, normalization=normalization).eval()
    g = torch.Generator().manual_seed(4)
    x = random_gcn_input(16, enc.shape, enc.layout, g)
    v = enc.shape[0]
    perm = torch.randperm(v, generator=g)
    a0, a1 = enc.layout["adjacency"]
    y = x[:, perm].clone()
    y[..., a0:a1] = x[..., a0:a1][:, perm][:, :, perm]
    with torch.no_grad():
        p1, f1 = net(x)
        p2, f2 = net(y)
    torch.testing.assert_close(p1, p2, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(f1, f2, rtol=1e-5, atol=1e-6)
    # the graph matters: reversing all edges changes the prediction
    z = x.clone()
    z[..., a0:a1] = x[..., a0:a1].transpose(1, 2)
    with torch.no_grad():
        assert not torch.allclose(net(z)[0], p1)


def test_gcn_matches_dense_reference():
    """One layer, no dropout, against the formulas written out with numpy."""
    enc = get_encoding("nb101", "gcn")
    torch.manual_seed(5)
    net = get_predictor("gcn", enc.shape, enc.layout, layers=1, hidden=8, dropout=0.0).eval()
    x = random_gcn_input(1, enc.shape, enc.layout, torch.Generator().manual_seed(6))[0]
    a = x[:, :7].numpy().astype(np.float64)
    ops = x[:, 7:12].numpy().astype(np.float64)
    m = x[:, 12].numpy().astype(np.float64)
    at = a * np.outer(m, m) + np.eye(7)
    pf = at / at.sum(1, keepdims=True)
    pb = at.T / at.T.sum(1, keepdims=True)
    wf = net.convs[0].forward_weight.weight.detach().numpy().T
    wb = net.convs[0].backward_weight.weight.detach().numpy().T
    h = (np.maximum(pf @ (ops * m[:, None]) @ wf, 0) + np.maximum(pb @ (ops * m[:, None]) @ wb, 0))
    h = h / 2
    z = (h * m[:, None]).sum(0) / m.sum()
    with torch.no_grad():
        _, feats = net(x[None])
    np.testing.assert_allclose(feats[0].numpy(), z, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", TORCH)
def test_torch_determinism(name):
    enc = get_encoding("nb101", {"lenet": "renas_tensor", "mlp": "path", "gcn": "gcn"}[name])
    x = make_input(name, enc, batch=4)

    def build_global():
        torch.manual_seed(7)
        return get_predictor(name, enc.shape, enc.layout)

    a, b = build_global(), build_global()
    state = torch.random.get_rng_state()
    c = get_predictor(name, enc.shape, enc.layout, seed=7)
    assert torch.equal(state, torch.random.get_rng_state())  # seed= leaves the global RNG
    d = get_predictor(name, enc.shape, enc.layout, seed=8)
    for p, q, r in zip(a.state_dict().values(), b.state_dict().values(),
                       c.state_dict().values(), strict=True):
        assert torch.equal(p, q) and torch.equal(p, r)
    assert any(not torch.equal(p, q) for p, q in zip(a.parameters(), d.parameters(), strict=True))
    a.eval()
    b.eval()
    with torch.no_grad():
        assert torch.equal(a(x)[0], b(x)[0])


def _synthetic(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(400, 2, 5)).astype(np.float32)  # tensor input, flattened
    f = x.reshape(400, -1)
    y = np.sin(3 * f[:, 0]) + f[:, 1] ** 2 + 0.5 * f[:, 2] * f[:, 3] + 0.05 * rng.normal(size=400)
    return x[:300], y[:300], x[300:], y[300:]


@pytest.mark.parametrize("name", FLAT_TREES)
def test_tree_fit_and_determinism(name):
    pytest.importorskip(TREE_PACKAGE[name])
    xtr, ytr, xte, yte = _synthetic()
    model = get_predictor(name, (2, 5), seed=0, **FAST_TREE[name])
    assert model.kind == "tree" and model.uses_loss is False
    pred = model.fit(xtr, ytr).predict(xte)
    assert pred.shape == (100,)
    r2 = 1 - np.sum((yte - pred) ** 2) / np.sum((yte - yte.mean()) ** 2)
    assert r2 > 0.5, r2
    again = get_predictor(name, (2, 5), seed=0, **FAST_TREE[name]).fit(xtr, ytr).predict(xte)
    np.testing.assert_array_equal(pred, again)
    # a flattened (n, d) input is accepted as well
    np.testing.assert_array_equal(model.predict(xte.reshape(100, -1)), pred)


def test_rf_seed_matters():
    pytest.importorskip("sklearn")
    xtr, ytr, xte, _ = _synthetic()
    a = get_predictor("rf", (2, 5), seed=0, n_estimators=10).fit(xtr, ytr).predict(xte)
    b = get_predictor("rf", (2, 5), seed=1, n_estimators=10).fit(xtr, ytr).predict(xte)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize(("bench", "enc_name"), [("nb101", "renas_tensor"), ("nb201", "gcn")])
@pytest.mark.parametrize("name", TREES)
def test_tree_on_encoding_shapes(name, bench, enc_name):
    pytest.importorskip(TREE_PACKAGE[name])
    enc = get_encoding(bench, enc_name)
    if not compatible(name, enc.shape, enc.layout):
        pytest.skip(f"{name} does not take {enc_name} (test_compatibility checks which)")
    rng = np.random.default_rng(0)
    x = rng.random((30, *enc.shape), dtype=np.float32)
    y = rng.random(30)
    model = get_predictor(name, enc.shape, enc.layout, **TINY_TREE[name])
    extra = {"unlabeled": x[:10]} if PREDICTORS[name].unlabeled else {}
    assert model.fit(x, y, **extra).predict(x[:7]).shape == (7,)
    with pytest.raises(ValueError, match="expected inputs"):
        model.predict(x[:, :1])


def test_errors():
    with pytest.raises(UnknownNameError,
                       match="available: bananas, blr, bohamiann, bonas, dngo, gcn, gp, "
                             "lenet, lightgbm, mlp, nao, ngboost, rf, seminas, sparse_gp, "
                             "var_sparse_gp, xgb"):
        get_predictor("resnet", (36,))
    with pytest.raises(ConfigError, match=r"predictor 'mlp': unknown option 'hiden'"):
        get_predictor("mlp", (36,), hiden=[3])
    with pytest.raises(ConfigError, match=r"'lenet'.*renas_tensor, type_matrix"):
        get_predictor("lenet", (36,))
    nb101_gcn = get_encoding("nb101", "gcn")
    with pytest.raises(ConfigError, match=r"'gcn'.*layout.*fits the packed gcn encoding"):
        get_predictor("gcn", nb101_gcn.shape)  # no layout
    with pytest.raises(ConfigError, match=r"'gcn'.*2-D"):
        get_predictor("gcn", (19, 7, 7), nb101_gcn.layout)
    with pytest.raises(ConfigError, match="does not fit"):
        check_input("gcn", (6, 13), nb101_gcn.layout)
    with pytest.raises(ConfigError, match="'dropout'"):
        get_predictor("mlp", (36,), dropout=1.5)
    with pytest.raises(ConfigError, match="'hidden'"):
        get_predictor("gcn", nb101_gcn.shape, nb101_gcn.layout, hidden=0)
    with pytest.raises(ConfigError, match="'normalization'"):
        get_predictor("gcn", nb101_gcn.shape, nb101_gcn.layout, normalization="sym")
    with pytest.raises(ConfigError, match="predictor 'xgb': unknown option 'lr'"):
        get_predictor("xgb", (36,), lr=0.1)
    with pytest.raises(ConfigError, match="'n_jobs'"):
        get_predictor("rf", (36,), n_jobs=0)
    with pytest.raises(UnknownNameError):
        check_input("nope", (3,))


def test_real_nb201_encodings():
    """Every compatible predictor runs on the encoder's own output (with 'none' ops)."""
    import pyarrow as pa

    from nasrank.encodings.cell_dag import SPEC_COLUMNS
    from nasrank.spaces.nb201 import OPS

    table = pa.table(
        {c: [OPS[(i + k) % len(OPS)] for k in range(4)] for i, c in enumerate(SPEC_COLUMNS)}
    )
    for enc_name in available("nb201"):
        enc = get_encoding("nb201", enc_name)
        x = enc.encode(table, enc.options)
        for name in TORCH:
            if compatible(name, enc.shape, enc.layout):
                net = get_predictor(name, enc.shape, enc.layout, seed=0).eval()
                with torch.no_grad():
                    pred, _ = net(torch.from_numpy(x))
                assert pred.shape == (4,) and torch.isfinite(pred).all()
