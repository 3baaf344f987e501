"""Tests of nasrank.metrics: scipy agreement, hand-computed cases, ties, validation."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from scipy import stats

from nasrank.errors import NasrankError
from nasrank.metrics import (
    MetricInputError,
    finite_or_nan,
    mean_ci,
    metric_keys,
    missing_note,
    nonfinite_cause,
    ranking_metrics,
    strict_metrics,
    top_t_count,
    warning_causes,
)

DEFAULT_KEYS = [
    "n", "kendall_tau", "spearman", "pearson", "weighted_kendall_tau", "sparse_kendall_tau",
    "precision_t_0.5", "precision_t_1", "precision_t_5", "precision_t_10", "n_at_10",
    "precision_at_10", "precision_at_20", "mae", "rmse",
]


@pytest.fixture
def random_pair() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(12345)
    y = rng.uniform(80, 95, size=500)
    p = y + rng.normal(0, 2, size=500)
    return y, p


# ------------------------------------------------------------------ keys and scipy


def test_default_keys_are_stable_and_ordered(random_pair):
    y, p = random_pair
    m = ranking_metrics(y, p)
    assert list(m) == DEFAULT_KEYS
    assert metric_keys() == DEFAULT_KEYS
    custom = ranking_metrics(y, p, precision_t=(2.5, 50), n_at_k=(1, 5), precision_at_k=(3,))
    assert list(custom) == metric_keys(precision_t=(2.5, 50), n_at_k=(1, 5), precision_at_k=(3,))
    assert "precision_t_2.5" in custom and "precision_t_50" in custom
    assert "n_at_1" in custom and "n_at_5" in custom and "precision_at_3" in custom


def test_values_are_plain_python_and_json_serialisable(random_pair):
    m = ranking_metrics(*random_pair)
    assert type(m["n"]) is int and type(m["n_at_10"]) is int
    assert all(type(v) is float for k, v in m.items() if k not in ("n", "n_at_10"))
    assert json.loads(json.dumps(m)) == m


@pytest.mark.parametrize("with_ties", [False, True])
def test_correlations_equal_scipy(random_pair, with_ties):
    y, p = random_pair
    if with_ties:  # many ties in both arrays exercise tau-b and average ranks
        y, p = np.round(y), np.round(p)
    m = ranking_metrics(y, p)
    assert m["kendall_tau"] == pytest.approx(stats.kendalltau(y, p).statistic, abs=1e-12)
    assert m["spearman"] == pytest.approx(stats.spearmanr(y, p).statistic, abs=1e-12)
    assert m["pearson"] == pytest.approx(stats.pearsonr(y, p).statistic, abs=1e-12)
    assert m["weighted_kendall_tau"] == pytest.approx(
        stats.weightedtau(y, p).statistic, abs=1e-12
    )
    # NASLib's kt_1dec: stats.kendalltau(ytest, np.round(test_pred, decimals=1))
    assert m["sparse_kendall_tau"] == pytest.approx(
        stats.kendalltau(y, np.round(p, decimals=1)).statistic, abs=1e-12
    )
    assert m["n"] == y.size


def test_pearson_is_signed_unlike_naslib(random_pair):
    y, p = random_pair
    m = ranking_metrics(y, -p)
    assert m["pearson"] < -0.5
    assert m["pearson"] == pytest.approx(-abs(np.corrcoef(y, p)[1, 0]), abs=1e-12)


def test_precision_at_k_matches_naslib_formula_on_distinct_values(random_pair):
    y, p = random_pair

    def naslib_precision(ytest, pred, k):  # as in NASLib's PredictorEvaluator.compare
        top_y = np.array([v > sorted(ytest)[max(-len(ytest), -k - 1)] for v in ytest])
        top_p = np.array([v > sorted(pred)[max(-len(pred), -k - 1)] for v in pred])
        return sum(top_y & top_p) / k

    m = ranking_metrics(y, p, precision_at_k=(10, 20, 50))
    for k in (10, 20, 50):
        assert m[f"precision_at_{k}"] == pytest.approx(naslib_precision(y, p, k))


def test_permutation_invariance_for_distinct_values(random_pair):
    y, p = random_pair
    perm = np.random.default_rng(7).permutation(y.size)
    a, b = ranking_metrics(y, p), ranking_metrics(y[perm], p[perm])
    for key in a:
        assert a[key] == pytest.approx(b[key], abs=1e-12), key


# ------------------------------------------------------------------ hand cases


def test_perfect_ranking():
    y = np.arange(1.0, 41.0)
    m = ranking_metrics(y, 3 * y + 7, precision_at_k=(10, 20, 40))
    for key in ("kendall_tau", "spearman", "pearson", "weighted_kendall_tau",
                "sparse_kendall_tau"):
        assert m[key] == pytest.approx(1.0), key
    assert m["n_at_10"] == 1
    for key in ("precision_t_0.5", "precision_t_1", "precision_t_5", "precision_t_10",
                "precision_at_10", "precision_at_20", "precision_at_40"):
        assert m[key] == 1.0, key
    assert m["n"] == 40


def test_reversed_ranking():
    n = 50
    y = np.arange(n, dtype=float)
    m = ranking_metrics(y, -y, n_at_k=(1, 10, 25, 50))
    assert m["kendall_tau"] == pytest.approx(-1.0)
    assert m["spearman"] == pytest.approx(-1.0)
    assert m["weighted_kendall_tau"] == pytest.approx(-1.0)
    for k in (1, 10, 25, 50):
        assert m[f"n_at_{k}"] == n - k + 1
    # ceil(10 % of 50) = 5: disjoint top sets
    assert m["precision_t_10"] == 0.0 and m["precision_at_10"] == 0.0


def test_precision_t_and_n_at_k_with_ties_by_hand():
    # index:        0   1   2   3   4   5   6   7   8   9
    y = np.array([90, 95, 95, 80, 70, 60, 85, 99, 50, 75], dtype=float)
    p = np.array([5, 9, 1, 9, 2, 3, 4, 0, 6, 7], dtype=float)
    # true order (ties by index):  7, 1, 2, 0, 6, 3, 9, 4, 5, 8
    # predicted order:             1, 3, 9, 8, 0, 6, 5, 4, 2, 7
    m = ranking_metrics(y, p, precision_t=(20, 30, 100), n_at_k=(1, 2, 3, 9, 10),
                        precision_at_k=(2, 4))
    # T=20 %: k=2, true {7, 1} (1 before 2 among the 95s), predicted {1, 3} -> 1/2
    assert m["precision_t_20"] == 0.5
    # T=30 %: k=3, true {7, 1, 2}, predicted {1, 3, 9} -> 1/3
    assert m["precision_t_30"] == pytest.approx(1 / 3)
    assert m["precision_t_100"] == 1.0
    assert m["precision_at_2"] == 0.5
    # k=4: true {7, 1, 2, 0}, predicted {1, 3, 9, 8} -> 1/4
    assert m["precision_at_4"] == 0.25
    # N@1: predicted top-1 is index 1 (tie with index 3 broken by position); its true
    # value 95 has one strictly better (99) -> rank 2 (index 3 would give rank 6).
    assert m["n_at_1"] == 2
    assert m["n_at_2"] == 2 and m["n_at_3"] == 2
    # N@9 still misses index 7 (the best); N@10 = all -> 1
    assert m["n_at_9"] == 2
    assert m["n_at_10"] == 1


def test_n_at_k_uses_competition_rank_for_tied_true_values():
    y = np.array([90, 95, 95, 80, 99], dtype=float)
    # predicted top-1 is index 2, tied at 95 with index 1: both have true rank 2
    p = np.array([0, 1, 5, 2, 3], dtype=float)
    assert ranking_metrics(y, p, n_at_k=(1,))["n_at_1"] == 2
    # two best architectures tied: finding either one is rank 1
    y2 = np.array([99, 50, 99, 60], dtype=float)
    p2 = np.array([0, 1, 3, 2], dtype=float)
    assert ranking_metrics(y2, p2, n_at_k=(1,))["n_at_1"] == 1


def test_top_t_count_is_exact_ceiling():
    assert top_t_count(0.5, 200) == 1  # 0.005 * 200 must not round up to 2
    assert top_t_count(0.5, 201) == 2
    assert top_t_count(0.5, 10) == 1   # at least one
    assert top_t_count(1, 150) == 2
    assert top_t_count(10, 423624) == 42363
    assert top_t_count(0.5, 423624) == 2119
    assert top_t_count(100, 7) == 7


def test_sparse_kendall_tau_rounding_by_hand():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    p = np.array([90.01, 90.04, 90.12, 90.11])
    m = ranking_metrics(y, p)
    # raw: pair (2, 3) discordant, 5 concordant -> (5 - 1) / 6
    assert m["kendall_tau"] == pytest.approx(2 / 3)
    # rounded to 0.1: [90.0, 90.0, 90.1, 90.1]; 4 concordant, 2 pairs tied in p:
    # tau-b = 4 / sqrt(6 * (6 - 2))
    assert m["sparse_kendall_tau"] == pytest.approx(4 / math.sqrt(24))
    # a coarser step makes every prediction 90.0: undefined
    coarse = ranking_metrics(y, p, sparse_round=0.5)
    assert math.isnan(coarse["sparse_kendall_tau"])
    assert coarse["kendall_tau"] == pytest.approx(2 / 3)
    # a non-decimal step: multiples of 0.25 -> [90.0, 90.0, 90.0, 90.0] as well
    assert math.isnan(ranking_metrics(y, p, sparse_round=0.25)["sparse_kendall_tau"])
    # 0.01: no information lost -> equals the raw tau
    assert ranking_metrics(y, p, sparse_round=0.01)["sparse_kendall_tau"] == pytest.approx(2 / 3)


def test_sparse_kendall_tau_is_naslib_rounding_on_half_steps():
    # predictions on a 0.05 grid: many exact halves, where np.round(x, 1) (NASLib) and
    # rint(x / 0.1) * 0.1 disagree through floating point
    rng = np.random.default_rng(3)
    y = rng.uniform(80, 95, size=500)
    p = np.round((y + rng.normal(0, 1, size=500)) / 0.05) * 0.05
    expected = stats.kendalltau(y, np.round(p, decimals=1)).statistic
    assert ranking_metrics(y, p)["sparse_kendall_tau"] == expected


def test_tie_breaking_by_position_matches_reference_order():
    # large enough (n > 16) that an unstable sort would reorder ties
    rng = np.random.default_rng(11)
    n = 300
    y = rng.integers(0, 6, size=n).astype(float)
    p = rng.integers(0, 6, size=n).astype(float)
    true_order = sorted(range(n), key=lambda i: (-y[i], i))
    pred_order = sorted(range(n), key=lambda i: (-p[i], i))
    ks = (1, 7, 30, 61, 150)
    m = ranking_metrics(y, p, precision_t=(), n_at_k=ks, precision_at_k=ks)
    for k in ks:
        overlap = len(set(true_order[:k]) & set(pred_order[:k]))
        assert m[f"precision_at_{k}"] == overlap / k, k
        best = max(y[i] for i in pred_order[:k])
        assert m[f"n_at_{k}"] == 1 + sum(v > best for v in y), k


def test_mae_rmse_by_hand():
    m = ranking_metrics([1, 2, 3, 4], [2, 2, 5, 0])
    assert m["mae"] == pytest.approx(7 / 4)
    assert m["rmse"] == pytest.approx(math.sqrt(21 / 4))


def test_constant_predictions_give_nan_correlations_without_warnings():
    y = np.array([1.0, 3.0, 2.0, 5.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = ranking_metrics(y, np.full(4, 0.7), n_at_k=(1,), precision_at_k=(2,))
        m2 = ranking_metrics(np.full(4, 93.0), y)
    for key in ("kendall_tau", "spearman", "pearson", "weighted_kendall_tau",
                "sparse_kendall_tau"):
        assert math.isnan(m[key]) and math.isnan(m2[key]), key
    # ties broken by position: index 0 is "predicted best" (true 1.0, 3 better -> rank 4)
    assert m["n_at_1"] == 4
    # true order 3, 1, 2, 0 -> top-2 {3, 1}; predicted (by position) {0, 1} -> 1/2
    assert m["precision_at_2"] == 0.5
    assert m["mae"] == pytest.approx(np.mean(np.abs(0.7 - y)))


def test_precision_at_k_larger_than_n_is_nan():
    m = ranking_metrics([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], precision_at_k=(3, 4), n_at_k=(10,))
    assert m["precision_at_3"] == 1.0
    assert math.isnan(m["precision_at_4"])
    assert m["n_at_10"] == 1  # K > n: the best of all


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("y_true", "y_pred", "kwargs", "match"),
    [
        ([1, 2, 3], [1, 2], {}, "same length"),
        ([1.0], [2.0], {}, "at least 2"),
        ([], [], {}, "at least 2"),
        ([1, np.nan, 3], [1, 2, 3], {}, "y_true has 1 non-finite"),
        ([1, 2, 3], [1, 2, np.inf], {}, "y_pred has 1 non-finite"),
        ([[1, 2], [3, 4]], [1, 2, 3, 4], {}, "1-D"),
        (["a", "b"], [1, 2], {}, "numeric"),
        ([1, 2, 3], [1, 2, 3], {"precision_t": (0,)}, "precision_t"),
        ([1, 2, 3], [1, 2, 3], {"precision_t": (150,)}, "precision_t"),
        ([1, 2, 3], [1, 2, 3], {"n_at_k": (0,)}, "n_at_k"),
        ([1, 2, 3], [1, 2, 3], {"precision_at_k": (2.5,)}, "precision_at_k"),
        ([1, 2, 3], [1, 2, 3], {"sparse_round": 0}, "sparse_round"),
        ([1, 2, 3], [1, 2, 3], {"sparse_round": float("nan")}, "sparse_round"),
    ],
)
def test_invalid_inputs_raise_value_error(y_true, y_pred, kwargs, match):
    with pytest.raises(ValueError, match=match) as info:
        ranking_metrics(y_true, y_pred, **kwargs)
    assert isinstance(info.value, MetricInputError)
    assert isinstance(info.value, NasrankError)


# ------------------------------------------------------------------ mean_ci


def test_mean_ci_by_hand():
    mean, lo, hi = mean_ci([1.0, 2.0, 3.0, 4.0])
    # s = sqrt(5/3), sem = s / 2, t(0.975, df=3) = 3.182446305284263 (tables)
    half = 3.182446305284263 * math.sqrt(5 / 3) / 2
    assert mean == 2.5
    assert lo == pytest.approx(2.5 - half, rel=1e-12)
    assert hi == pytest.approx(2.5 + half, rel=1e-12)
    # 90 %: t(0.95, df=3) = 2.353363434801823
    _, lo90, hi90 = mean_ci([1.0, 2.0, 3.0, 4.0], confidence=0.9)
    assert hi90 - lo90 == pytest.approx(2 * 2.353363434801823 * math.sqrt(5 / 3) / 2)


def test_mean_ci_edge_cases():
    mean, lo, hi = mean_ci([0.75])
    assert mean == 0.75 and math.isnan(lo) and math.isnan(hi)
    assert mean_ci([2.0, 2.0, 2.0]) == (2.0, 2.0, 2.0)
    for bad, match in (([], "empty"), ([1.0, np.nan], "non-finite")):
        with pytest.raises(ValueError, match=match):
            mean_ci(bad)
    with pytest.raises(ValueError, match="confidence"):
        mean_ci([1.0, 2.0], confidence=1.0)


def test_sums_are_exact_so_any_order_gives_the_same_bits() -> None:
    """fsum is exactly rounded: permuting the architectures (what a different CPU's BLAS
    blocking amounts to) leaves Pearson, Spearman, MAE and RMSE bit-identical, and they
    agree with scipy to rounding."""
    from nasrank.metrics import pearson, spearman

    rng = np.random.default_rng(7)
    y = rng.normal(90, 3, 20_000)
    p = y + rng.normal(0, 2, y.size) * 1e3  # large values: rounding shows
    perm = rng.permutation(y.size)
    m, mp = ranking_metrics(y, p), ranking_metrics(y[perm], p[perm])
    for key in ("pearson", "spearman", "mae", "rmse"):
        assert m[key] == mp[key], key
    assert pearson(y, p) == pytest.approx(stats.pearsonr(y, p).statistic, abs=1e-14)
    assert spearman(y, p) == pytest.approx(stats.spearmanr(y, p).statistic, abs=1e-14)
    assert m["mae"] == pytest.approx(np.mean(np.abs(p - y)), rel=1e-14)


# ------------------------------------------------------------------ strict JSON files


def _strict_loads(text: str):
    """``json.loads`` that refuses the non-standard NaN/Infinity tokens."""
    def refuse(token: str):
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("constant", ["predictions", "labels"])
def test_strict_metrics_of_constant_input(constant: str) -> None:
    """Constant predictions or labels: every correlation is null in strict JSON, with a
    warning naming the metric and the cause; the finite metrics are untouched."""
    y = [1.0, 3.0, 2.0, 5.0]
    m = (ranking_metrics(y, [0.7] * 4, precision_at_k=(10,)) if constant == "predictions"
         else ranking_metrics([93.0] * 4, y, precision_at_k=(10,)))
    report = strict_metrics({"run_id": "r", "metrics": m})
    data = _strict_loads(json.dumps(report, indent=2, sort_keys=True, allow_nan=False))
    for key in ("kendall_tau", "spearman", "pearson", "weighted_kendall_tau",
                "sparse_kendall_tau", "precision_at_10"):
        assert data["metrics"][key] is None, key
    assert data["warnings"] == [
        "metrics.kendall_tau: undefined (constant predictions or labels)",
        "metrics.spearman: undefined (constant predictions or labels)",
        "metrics.pearson: undefined (constant predictions or labels)",
        "metrics.weighted_kendall_tau: undefined (constant predictions or labels)",
        "metrics.sparse_kendall_tau: undefined (constant rounded predictions or labels)",
        "metrics.precision_at_10: undefined (k > n)",
    ]
    assert data["metrics"]["mae"] == m["mae"] and data["metrics"]["n_at_10"] == m["n_at_10"]
    assert math.isnan(m["kendall_tau"])  # the in-memory dict is not changed


def test_strict_metrics_of_an_overflowing_rmse() -> None:
    """A label of 1e308: the squared error overflows, RMSE is inf -> null + warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's overflow warning
        m = ranking_metrics([1e308, 90.0, 91.0, 92.0], [90.0, 91.0, 92.0, 93.0],
                            precision_at_k=())
    assert m["rmse"] == math.inf
    report = strict_metrics({"metrics": m, "train_metrics": {"rmse": -math.inf}})
    data = _strict_loads(json.dumps(report, allow_nan=False))
    assert data["metrics"]["rmse"] is None and data["train_metrics"]["rmse"] is None
    assert data["metrics"]["mae"] == m["mae"]
    assert data["warnings"] == ["metrics.rmse: inf (overflow)",
                                "train_metrics.rmse: -inf (overflow)"]


def test_strict_metrics_paths_causes_and_kept_warnings() -> None:
    obj = {"results": [{"rows": [{"mae": math.nan, "kendall_tau": 0.5}]}],
           "trajectory": (1.0, math.nan), "warnings": ["earlier"]}
    out = strict_metrics(obj, causes={"mae": "not computed (zero-cost)"})
    assert out["results"][0]["rows"][0] == {"mae": None, "kendall_tau": 0.5}
    assert out["trajectory"] == [1.0, None]
    assert out["warnings"] == ["earlier", "results[0].rows[0].mae: not computed (zero-cost)",
                               "trajectory[1]: undefined (NaN)"]
    assert math.isnan(obj["results"][0]["rows"][0]["mae"])  # a copy
    assert nonfinite_cause("mae", math.inf, {"mae": "x"}) == "inf (overflow)"
    assert nonfinite_cause("n_at_10", math.nan) == "undefined (NaN)"


def test_finite_or_nan_reads_strict_and_old_files() -> None:
    """null (a strict file: the cause from its warnings) and NaN/Infinity tokens (a file
    written before) both read back as NaN, with the same causes."""
    new = _strict_loads(json.dumps(strict_metrics(
        {"metrics": {"n": 5, "kendall_tau": math.nan, "rmse": math.inf, "mae": 1.5}})))
    old = json.loads('{"metrics": {"n": 5, "kendall_tau": NaN, "rmse": Infinity, '
                     '"mae": 1.5}}')
    names = ["n", "kendall_tau", "rmse", "mae", "absent"]
    for report in (new, old):
        values, missing = finite_or_nan(report["metrics"], names, path="metrics",
                                        warnings=warning_causes(report))
        assert list(values) == ["n", "kendall_tau", "rmse", "mae"]
        assert values["n"] == 5 and values["mae"] == 1.5
        assert math.isnan(values["kendall_tau"]) and math.isnan(values["rmse"])
        assert missing == {"kendall_tau": "undefined (constant predictions or labels)",
                           "rmse": "inf (overflow)"}


def test_missing_note() -> None:
    seeds = [{"mae": "a", "rmse": "a", "kendall_tau": "c"}, {"mae": "a", "rmse": "a"}, {}]
    assert missing_note(seeds, ["kendall_tau", "mae", "rmse", "spearman"]) == (
        "kendall_tau: no value in 1 of 3 seeds, c; mae, rmse: no value in 2 of 3 seeds, a")
    assert missing_note([{}, {}], ["mae"]) == ""
    assert missing_note([{"mae": "a"}], ["mae"]) == "mae: no value in 1 of 1 seed, a"
