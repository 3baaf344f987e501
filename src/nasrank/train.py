"""Train one predictor on a labelled sample and predict every labelled architecture.

One run is one cell of an experiment grid: (benchmark task, encoding, predictor, loss,
train size, seed). The split, the feature standardisation and the label scaling are
functions of that tuple alone, so a run is reproducible bit for bit on the same device.

Protocols for the split (``train.protocol``):

* ``renas``: ``train_size`` labelled architectures drawn at random; every other labelled
  architecture is the test set (ReNAS).
* ``naslib``: a test set of ``naslib_test_size`` drawn first; the training set is the
  first ``train_size`` of one permutation of the rest, so smaller sizes are prefixes of
  larger ones for the same seed (White et al.).

Features are standardised element-wise (except for predictors that take a graph, the
GCN) and labels min-max scaled to [0, 1] with statistics of the training split only.
Predictions are mapped back to the label's units.

Usage::

    cfg = RunConfig(bench="nb101", task=None, encoding="renas_tensor", predictor="lenet",
                    loss="lr", train_size=424, seed=0)
    result = run(cfg, params)        # writes data/models/<cfg.run_id>/
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from nasrank.config import loss_options_for, resolve_loss
from nasrank.encodings import get_encoding
from nasrank.encodings.store import read_features
from nasrank.errors import ConfigError, DataFormatError, NasrankError
from nasrank.io import atomic_path, read_metadata
from nasrank.paths import Paths, TableId

log = logging.getLogger("nasrank.train")

# Architectures per inference batch. On the CPU small batches keep the activations in
# cache and reuse the allocator's memory: one thread predicted NB201's 15,625 cells with a
# GCN in 0.38 s at 512 against 1.06 s at 8,192, and NB101's 30,001 with the LeNet in
# 1.7 s against 2.8 s, the same bytes (each architecture's row is computed alone).
PREDICT_BATCH = {"cpu": 512, "cuda": 8192}


def predict_batch(device: str) -> int:
    """Architectures per inference batch on ``device`` (:data:`PREDICT_BATCH`)."""
    return PREDICT_BATCH["cuda" if str(device).startswith("cuda") else "cpu"]
# Deterministic cuBLAS needs this before CUDA initialises (PyTorch reproducibility notes);
# set in the environment of every training process, harmless on CPU.
DETERMINISTIC_ENV = {"CUBLAS_WORKSPACE_CONFIG": ":4096:8"}
REGRESSION = "regression"  # the "loss" of tree predictors, which fit the target directly


class TrainingError(NasrankError):
    """Training diverged (non-finite loss) or cannot start."""


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one training run."""

    bench: str
    task: str | None
    encoding: str
    predictor: str
    loss: str
    train_size: int
    seed: int
    target: str | None = None
    protocol: str = "renas"
    naslib_test_size: int = 200
    epochs: int = 200
    batch_size: int = 1024
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    device: str = "auto"
    select: str = "last"
    predictor_options: dict[str, Any] = field(default_factory=dict)
    loss_options: dict[str, Any] = field(default_factory=dict)
    # the name of params.yaml's loss variant this run trains (its loss is ``loss`` with
    # ``loss_options``): it names the run's directory instead of the loss
    loss_variant: str | None = None

    @property
    def loss_name(self) -> str:
        """The loss as grids, paths and reports name it: the variant, else the loss."""
        return self.loss_variant or self.loss

    @property
    def table(self) -> TableId:
        """The processed table with the labels (``nb201-cifar10``)."""
        return TableId.of(self.bench, self.task)

    @property
    def run_id(self) -> str:
        """Relative directory of the run under ``data/models``."""
        return (f"{self.table}/{self.encoding}/{self.predictor}/{self.loss_name}/"
                f"n{self.train_size}/s{self.seed}")


def config_from_params(params: dict[str, Any], **cell: Any) -> RunConfig:
    """A :class:`RunConfig` from params.yaml's ``train``, ``losses``, ``loss_variants`` and
    ``predictors``; ``loss`` may name a loss variant."""
    loss = cell["loss"]
    base, _ = resolve_loss(params, loss)
    predictor = cell["predictor"]
    train = {**params["train"], **params["train"]["by_predictor"].get(predictor, {})}
    return RunConfig(
        **{**cell, "loss": base},
        loss_variant=None if base == loss else loss,
        protocol=train["protocol"],
        naslib_test_size=train["naslib_test_size"],
        epochs=train["epochs"],
        batch_size=train["batch_size"],
        learning_rate=train["learning_rate"],
        weight_decay=train["weight_decay"],
        device=train["device"],
        select=train["select"],
        predictor_options=dict(params["predictors"].get(predictor, {})),
        loss_options=loss_options_for(params, loss, TableId.of(cell["bench"],
                                                                cell.get("task"))),
    )


def resolve_device(name: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device is 'cuda' but no CUDA device is available")
    return name


def non_finite_labels(path: Path, target: str) -> int:
    """How many ``target`` labels of a processed table are NaN or infinite (not null):
    the broken labels :func:`load_labels` leaves out, which a run's config.json counts."""
    column = pq.read_table(path, columns=[target]).column(target)
    y = column.to_numpy(zero_copy_only=False).astype(np.float64)
    return int(len(y) - column.null_count - np.isfinite(y).sum())


def load_labels(path: Path, target: str | None) -> tuple[np.ndarray, np.ndarray, str]:
    """Labelled architectures of a processed table: ids, target values, target name.

    Null labels mark unlabelled architectures; NaN or infinite ones are left out too,
    with a warning naming how many (a table of only such labels is refused).

    Raises:
        DataFormatError: the target column is missing, or no label is finite.
    """
    meta = read_metadata(path)
    target = target or meta.get("default_target")
    if target is None:
        raise DataFormatError(f"{path}: no target given and no default_target in metadata")
    names = pq.read_schema(path).names
    if target not in names:
        numeric = [c for c in names if c != "arch_id"]
        raise DataFormatError(f"{path}: no target column {target!r}; columns: {numeric}")
    table = pq.read_table(path, columns=["arch_id", target])
    column = table.column(target)
    y = column.to_numpy(zero_copy_only=False).astype(np.float64)
    keep = np.isfinite(y)
    # nulls are unlabelled architectures; a NaN or infinite value is a broken label
    broken = int(len(y) - column.null_count - keep.sum())
    if broken:
        first = table.column("arch_id")[int(np.flatnonzero(~keep & column.is_valid()
                                                            .to_numpy(zero_copy_only=False))[0])]
        if not keep.any():
            raise DataFormatError(f"{path}: every {target!r} label is NaN or infinite "
                                  f"({broken}, e.g. architecture {first})")
        log.warning("%s: %d %r labels are NaN or infinite (e.g. architecture %s); they are "
                    "left out as unlabelled", path, broken, target, first)
    ids = table.column("arch_id").to_numpy(zero_copy_only=False)[keep]
    return ids, y[keep], target


def split(n: int, cfg: RunConfig) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the training and test architectures.

    Raises:
        ConfigError: the train size does not fit the labelled pool.
    """
    rng = np.random.default_rng(cfg.seed)
    perm = rng.permutation(n)
    if cfg.protocol == "renas":
        if not 2 <= cfg.train_size <= n - 2:
            raise ConfigError(f"{cfg.run_id}: train size {cfg.train_size} does not fit the "
                              f"{n} labelled architectures of {cfg.table} (2..{n - 2})")
        return np.sort(perm[: cfg.train_size]), np.sort(perm[cfg.train_size :])
    if cfg.protocol == "naslib":
        test = perm[: cfg.naslib_test_size]
        pool = perm[cfg.naslib_test_size :]
        if not 2 <= cfg.train_size <= len(pool) or len(test) < 2:
            raise ConfigError(f"{cfg.run_id}: train size {cfg.train_size} does not fit the "
                              f"{len(pool)} labelled architectures left after a test set "
                              f"of {cfg.naslib_test_size} in {cfg.table}")
        return np.sort(pool[: cfg.train_size]), np.sort(test)
    raise ConfigError(f"unknown train.protocol {cfg.protocol!r}; use renas or naslib")


@dataclass
class Scaling:
    """Training-split statistics: feature mean/std (element-wise), label min/max."""

    x_mean: np.ndarray
    x_std: np.ndarray
    y_min: float
    y_max: float

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, standardize: bool = True) -> Scaling:
        """Statistics of the training split; identity feature scaling if not
        ``standardize``."""
        if standardize:
            mean = x.mean(axis=0, dtype=np.float64).astype(np.float32)
            std = x.std(axis=0, dtype=np.float64).astype(np.float32)
            std[std == 0] = 1.0
        else:
            mean = np.zeros(x.shape[1:], dtype=np.float32)
            std = np.ones(x.shape[1:], dtype=np.float32)
        lo, hi = float(y.min()), float(y.max())
        return cls(mean, std, lo, hi if hi > lo else lo + 1.0)

    def x(self, x: np.ndarray) -> np.ndarray:
        return (x - self.x_mean) / self.x_std

    def y(self, y: np.ndarray) -> np.ndarray:
        return (y - self.y_min) / (self.y_max - self.y_min)

    def y_inverse(self, z: np.ndarray) -> np.ndarray:
        return z * (self.y_max - self.y_min) + self.y_min


def _batches(n: int, size: int, order: np.ndarray) -> list[np.ndarray]:
    """Mini-batches of ``order``; a last batch of one joins the previous one (BatchNorm)."""
    parts = [order[i : i + size] for i in range(0, n, size)]
    if len(parts) > 1 and len(parts[-1]) == 1:
        parts[-2] = np.concatenate([parts[-2], parts.pop()])
    return parts


@contextlib.contextmanager
def one_thread(device: str) -> Iterator[None]:
    """torch's CPU kernels on one thread inside the block (nothing changes on a GPU).

    A CPU result then does not depend on how many threads the process has: the number
    of threads changes how MKL and ATen split sums, and with it the last bits.
    """
    import torch

    before = torch.get_num_threads()
    if device.startswith("cuda") or before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def predict_torch(model: Any, x: np.ndarray, device: str) -> np.ndarray:
    """Batched inference in eval mode (scaled units), on one CPU thread (:func:`one_thread`)."""
    import torch

    model.eval()
    out = []
    with torch.no_grad(), one_thread(device):
        step = predict_batch(device)
        for i in range(0, len(x), step):
            pred, _ = model(torch.from_numpy(x[i : i + step]).to(device))
            out.append(pred.float().cpu().numpy())
    return np.concatenate(out).astype(np.float64) if out else np.empty(0)


@dataclass
class FittedPredictor:
    """A trained predictor with its training-split scaling: raw features in, labels out."""

    cfg: RunConfig
    model: Any
    scaling: Scaling
    kind: str
    device: str
    history: list[dict[str, float]]
    timing: dict[str, Any] = field(default_factory=dict)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted labels (the target's units) of raw (unscaled) features ``x``.

        Raises:
            TrainingError: the predictor output non-finite values.
        """
        xs = self.scaling.x(x).astype(np.float32)
        if self.kind == "torch":
            z = predict_torch(self.model, xs, self.device)
        else:
            z = np.asarray(self.model.predict(xs), dtype=np.float64)
        if not np.isfinite(z).all():
            raise TrainingError(f"{self.cfg.run_id}: the predictor output non-finite values")
        return self.scaling.y_inverse(z)

    def save(self, path: Path) -> None:
        """``torch.save`` of the state dict and scaling, or ``joblib`` of the tree model."""
        if self.kind == "torch":
            import torch

            s = self.scaling
            state = {"state_dict": self.model.state_dict(),
                     "x_mean": torch.from_numpy(s.x_mean), "x_std": torch.from_numpy(s.x_std),
                     "y_range": torch.tensor([s.y_min, s.y_max], dtype=torch.float64)}
            # through a file object: torch names the archive's root folder after a path
            with atomic_path(path) as tmp, open(tmp, "wb") as f:
                torch.save(state, f)
        else:
            import joblib

            with atomic_path(path) as tmp:
                joblib.dump({"model": self.model, "scaling": self.scaling}, tmp)


def check_loss(cfg: RunConfig) -> Any:
    """The predictor's registry spec, after checking that the loss fits it.

    Raises:
        ConfigError: a tree predictor with a loss, or a torch predictor without one.
    """
    from nasrank.predictors import predictor_spec

    spec = predictor_spec(cfg.predictor)
    if not spec.uses_loss and cfg.loss != REGRESSION:
        raise ConfigError(f"predictor {cfg.predictor!r} fits the regression target; use loss "
                          f"'{REGRESSION}', not {cfg.loss!r}")
    if spec.uses_loss and cfg.loss == REGRESSION:
        raise ConfigError(f"predictor {cfg.predictor!r} needs a loss, not '{REGRESSION}'")
    return spec


def fit_predictor(cfg: RunConfig, x: np.ndarray, y: np.ndarray,
                  layout: dict[str, list[int]],
                  unlabeled: np.ndarray | None = None) -> FittedPredictor:
    """Fit ``cfg``'s predictor and loss on raw features ``x`` and labels ``y``: a sweep of
    one (:func:`nasrank.sweep.fit_predictors`; ``unlabeled``: raw features of unlabelled
    architectures, for SemiNAS).

    Feature and label scaling use these training samples only.
    """
    from nasrank.sweep import fit_predictors

    return fit_predictors([cfg], [x], [y], layout, unlabeled=[unlabeled])[0]


def load_run_inputs(cfg: RunConfig, params: dict[str, Any],
                    ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, str, Any,
                                                            np.ndarray]:
    """Labelled ids, labels, target name, encoding and features of ``cfg``'s table.

    ``ids`` restricts the architectures (each must be labelled); default: all labelled.

    Raises:
        NasrankError: a missing processed table or features file (naming the stage).
        DataFormatError: features of the wrong shape.
    """
    paths = Paths.of(params)
    processed = paths.processed(cfg.table)
    features = paths.features(cfg.bench, cfg.encoding)
    enc = get_encoding(cfg.bench, cfg.encoding)
    for path, stage in ((processed, f"ingest {cfg.bench}"),
                        (features, f"encode {cfg.bench} {cfg.encoding}")):
        if not path.is_file():
            raise NasrankError(f"{path} is missing; run `nasrank {stage}` first")
    all_ids, all_y, target = load_labels(processed, cfg.target)
    if ids is None:
        ids, y = all_ids, all_y
    else:
        pos = {k: i for i, k in enumerate(all_ids)}
        missing = [k for k in ids if k not in pos]
        if missing:
            raise DataFormatError(f"{processed}: {len(missing)} architectures are not labelled "
                                  f"with {target}, e.g. {missing[0]}")
        y = all_y[[pos[k] for k in ids]]
    feats = read_features(features, ids=ids)
    finite = np.isfinite(feats.x).reshape(len(feats.x), -1).all(axis=1)
    if not finite.all():
        first = np.asarray(ids)[int(np.flatnonzero(~finite)[0])]
        raise DataFormatError(f"{features}: the features of {int((~finite).sum())} "
                              f"architectures hold NaN or infinite values (e.g. {first}); "
                              f"rerun `nasrank encode {cfg.bench} {cfg.encoding}`")
    if tuple(feats.meta["shape"]) != enc.shape:
        raise DataFormatError(f"{features}: tensors of shape {tuple(feats.meta['shape'])}, but "
                              f"{cfg.bench} {cfg.encoding} has shape {enc.shape}; rerun "
                              f"`nasrank encode {cfg.bench} {cfg.encoding}`")
    return np.asarray(ids), y, target, enc, feats.x.reshape(len(ids), *enc.shape)


def run(cfg: RunConfig, params: dict[str, Any]) -> dict[str, Any]:
    """Train, predict all labelled architectures, write the run directory: a sweep of one.

    Writes ``data/models/<run_id>/``: ``model.bin`` (``torch.save`` of the state dict and
    scaling, or ``joblib`` of the fitted tree ensemble and scaling: ``model_format`` in
    the config), ``config.json``, ``log.csv`` (one row per epoch),
    ``predictions.parquet`` (arch_id, split, y_true, y_pred) and ``timing.json`` (fit and
    query times, kept apart because they differ from run to run).
    """
    from nasrank.sweep import run_sweep

    check_loss(cfg)
    return run_sweep([cfg], params)[0]


def evaluate(params: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """Ranking metrics of a run's test split (and its train split for reference).

    Returns:
        ``{"run_id", "config", "metrics" (test split), "train_metrics"}``: no timings,
        so the file is identical whenever the predictions are.
    """
    from nasrank.metrics import ranking_metrics

    path = run_dir / "predictions.parquet"
    if not path.is_file():
        raise NasrankError(f"{path} is missing: the run was not trained; run `nasrank train` "
                           "(or the sweep that holds it) first")
    table = pq.read_table(path)
    config = read_metadata(path)
    ev = params["evaluation"]
    options = {"precision_t": tuple(ev["precision_t"]), "n_at_k": tuple(ev["n_at_k"]),
               "precision_at_k": tuple(ev["precision_at_k"])}
    split_col = table.column("split").to_numpy(zero_copy_only=False)
    y_true = table.column("y_true").to_numpy()
    y_pred = table.column("y_pred").to_numpy()
    out = {"run_id": config["run_id"], "config": config}
    for name, part in (("metrics", "test"), ("train_metrics", "train")):
        sel = split_col == part
        out[name] = ranking_metrics(y_true[sel], y_pred[sel], **options)
    return out
