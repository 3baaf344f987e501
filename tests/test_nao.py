"""NAO and SemiNAS (nasrank.predictors.nao): NASLib's token sequences from the gcn
encoding, fits that learn and repeat, SemiNAS's unlabelled data and where it comes from."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from scipy.stats import kendalltau

from nasrank.encodings import get_encoding
from nasrank.encodings.cell_dag import SPEC_COLUMNS
from nasrank.errors import ConfigError
from nasrank.predictors import PREDICTORS, get_predictor
from nasrank.predictors.nao import arch_sequences
from nasrank.spaces.nb201 import OPS, NB201Space

FAST = {"pretrain_epochs": 20, "batch_size": 32}
SEMI = {"epochs": 3, "up_sample_ratio": 2}


def nb201_cells(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random NB201 cells as gcn encodings, and a target: the number of 3x3
    convolutions plus a little noise (a function of the sequence)."""
    rng = np.random.default_rng(seed)
    ops = rng.integers(0, len(OPS), size=(n, len(SPEC_COLUMNS)))
    table = pa.table({c: [OPS[k] for k in ops[:, i]] for i, c in enumerate(SPEC_COLUMNS)})
    enc = get_encoding("nb201", "gcn")
    x = enc.encode(table, enc.options)
    y = (ops == OPS.index("nor_conv_3x3")).sum(axis=1) + 0.1 * rng.random(n)
    return x, y


def test_sequences_follow_naslib() -> None:
    """NB201: 35 tokens (27 on NB101), edge tokens 1/2 then the node's op token; a
    masked node is padding (0); distinct cells give distinct sequences."""
    enc = get_encoding("nb201", "gcn")
    x, _ = nb201_cells(50, 0)
    seq = arch_sequences(x, enc.layout)
    assert seq.shape == (50, 35) and seq.dtype == np.int64
    n_types = enc.layout["ops"][1] - enc.layout["ops"][0]
    op_pos = [(j + 3) * j // 2 - 1 for j in range(1, 8)]          # NASLib's offsets
    edge_pos = [i for i in range(35) if i not in op_pos]
    assert set(np.unique(seq[:, edge_pos])) <= {0, 1, 2}
    assert set(np.unique(seq[:, op_pos])) <= {0, *range(3, 4 + n_types)}
    assert len({tuple(s) for s in seq}) == len({tuple(r.ravel()) for r in x})
    v = 7
    nb101 = get_encoding("nb101", "gcn")
    assert arch_sequences(np.zeros((2, v, nb101.shape[1]), np.float32),
                          nb101.layout).shape == (2, 27)
    # a hand-made 3-node cell: 0 -> 1 -> 2 and 0 -> 2, ops 1 and 0 (one-hot)
    layout = {"adjacency": [0, 3], "ops": [3, 5], "mask": [5, 6]}
    cell = np.zeros((1, 3, 6), np.float32)
    cell[0, 0, 1] = cell[0, 1, 2] = cell[0, 0, 2] = 1
    cell[0, 1, 4] = cell[0, 2, 3] = 1
    cell[0, :, 5] = 1
    assert arch_sequences(cell, layout).tolist() == [[2, 4, 2, 2, 3]]
    cell[0, 2, 5] = 0                                             # node 2 masked out
    assert arch_sequences(cell, layout).tolist() == [[2, 4, 0, 0, 0]]


@pytest.mark.parametrize("name", ["nao", "seminas"])
def test_fit_learns_and_repeats(name: str) -> None:
    """On a target the sequence determines, the encoder-predictor ranks held-out cells
    well; the same seed gives the same bytes, another seed other ones."""
    enc = get_encoding("nb201", "gcn")
    x, y = nb201_cells(350, 1)
    extra = {"unlabeled": x[150:250]} if name == "seminas" else {}
    opts = {**FAST, **SEMI} if name == "seminas" else FAST

    def fit(seed: int) -> np.ndarray:
        model = get_predictor(name, enc.shape, enc.layout, seed=seed, **opts)
        return model.fit(x[:150], y[:150], **extra).predict(x[250:])

    a = fit(0)
    assert kendalltau(y[250:], a).statistic > 0.5
    np.testing.assert_array_equal(a, fit(0))
    assert not np.array_equal(a, fit(1))


def test_seminas_pseudo_labels_unlabelled_cells() -> None:
    """SemiNAS is NAO plus a second phase on pseudo-labels: it needs unlabelled cells,
    and both they and the second phase change its predictions."""
    enc = get_encoding("nb201", "gcn")
    x, y = nb201_cells(300, 2)
    semi = get_predictor("seminas", enc.shape, enc.layout, seed=0, **FAST, **SEMI)
    assert PREDICTORS["seminas"].unlabeled and not PREDICTORS["nao"].unlabeled
    with pytest.raises(ValueError, match="seminas: fit\\(\\) needs unlabeled"):
        semi.fit(x[:100], y[:100])
    p_semi = semi.fit(x[:100], y[:100], unlabeled=x[100:200]).predict(x[200:])
    p_nao = get_predictor("nao", enc.shape, enc.layout, seed=0, **FAST).fit(
        x[:100], y[:100]).predict(x[200:])
    assert not np.array_equal(p_semi, p_nao)
    # the unlabelled cells matter: another pool, another result
    other = get_predictor("seminas", enc.shape, enc.layout, seed=0, **FAST, **SEMI).fit(
        x[:100], y[:100], unlabeled=x[200:300]).predict(x[200:])
    assert not np.array_equal(other, p_semi)


def test_seminas_without_unlabelled_data_is_named() -> None:
    """A caller that has no unlabelled architectures (a training grid) gets an error
    naming the run and the predictor."""
    from nasrank.sweep import fit_predictors
    from nasrank.train import RunConfig

    enc = get_encoding("nb201", "gcn")
    x, y = nb201_cells(40, 3)
    cfg = RunConfig(bench="nb201", task="cifar10", encoding="gcn", predictor="seminas",
                    loss="regression", train_size=40, seed=0,
                    predictor_options={"pretrain_epochs": 1, "epochs": 1})
    with pytest.raises(ConfigError, match=r"run .*/seminas/.*: predictor 'seminas' trains on "
                                          "unlabeled architectures too"):
        fit_predictors([cfg], [x], [y], enc.layout)
    fitted = fit_predictors([cfg], [x], [y], enc.layout, unlabeled=[x[:10]])
    assert fitted[0].predict(x).shape == (40,)


def test_space_cells_encode_to_distinct_sequences() -> None:
    """Every one of the 15,625 NB201 cells has its own sequence (the gcn encoding keeps
    'none' edges as absent: isomorphic cells may share one, never more than the
    encoding itself)."""
    space = NB201Space()
    specs = list(space.enumerate())[:2000]
    table = pa.table({c: [s[i] for s in specs] for i, c in enumerate(SPEC_COLUMNS)})
    enc = get_encoding("nb201", "gcn")
    x = enc.encode(table, enc.options)
    seq = arch_sequences(x, enc.layout)
    assert len({tuple(s) for s in seq}) == len({r.tobytes() for r in x})
