"""Tests of the feature store (nasrank.encodings.store): one ``arch_id`` column, one
fixed-size float32 column, the tensor shape in the schema metadata, atomic writes."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nasrank.encodings.store import Features, FeatureWriter, read_features, write_features
from nasrank.errors import DataFormatError
from nasrank.io import read_metadata, write_parquet

META = {"encoding": "toy", "benchmark": "nb101", "description": "a toy tensor"}


def _ids(n: int) -> list[str]:
    return [f"arch{i:04d}" for i in range(n)]


def _tensor(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _listing(directory: Path) -> list[str]:
    """Every entry of ``directory``, hidden temporary files included."""
    return sorted(p.name for p in directory.iterdir())


@pytest.mark.parametrize("shape", [(5,), (3, 4), (19, 7, 7)], ids=["vector", "matrix", "renas"])
def test_round_trip(tmp_path: Path, shape: tuple[int, ...]) -> None:
    n = 37
    ids = _ids(n)[::-1]  # not sorted: the order is kept as written
    x = _tensor(n, *shape)
    dest = tmp_path / "out" / "features.parquet"  # parent created on demand
    write_features(dest, ids, x, META)

    feats = read_features(dest)
    assert isinstance(feats, Features)
    assert feats.x.dtype == np.float32
    assert feats.x.shape == (n, *shape)
    np.testing.assert_array_equal(feats.x, x)
    assert feats.arch_id.shape == (n,)
    assert feats.arch_id.tolist() == ids
    assert feats.meta == {**META, "shape": list(shape), "dtype": "float32"}
    assert read_metadata(dest) == feats.meta
    # The on-disk layout every predictor relies on.
    schema = pq.read_schema(dest)
    assert schema.names == ["arch_id", "x"]
    assert schema.field("arch_id").type == pa.string()
    assert schema.field("x").type == pa.list_(pa.float32(), int(np.prod(shape)))
    assert _listing(dest.parent) == ["features.parquet"]


def test_round_trip_converts_to_float32(tmp_path: Path) -> None:
    x64 = np.linspace(-1.0, 1.0, 24).reshape(4, 6)
    write_features(tmp_path / "f.parquet", _ids(4), x64, META)
    feats = read_features(tmp_path / "f.parquet")
    assert feats.x.dtype == np.float32
    np.testing.assert_array_equal(feats.x, x64.astype(np.float32))


@pytest.mark.parametrize(
    "make_ids",
    [
        pytest.param(list, id="list"),
        pytest.param(lambda ids: np.array(ids, dtype=object), id="numpy"),
        pytest.param(lambda ids: pa.array(ids, pa.string()), id="arrow"),
        pytest.param(lambda ids: pa.chunked_array([ids[:3], ids[3:]], pa.string()),
                     id="chunked"),
    ],
)
def test_id_containers_give_the_same_file(tmp_path: Path, make_ids) -> None:
    ids, x = _ids(8), _tensor(8, 2, 2)
    write_features(tmp_path / "ref.parquet", ids, x, META)
    write_features(tmp_path / "got.parquet", make_ids(ids), x, META)
    assert read_features(tmp_path / "got.parquet").arch_id.tolist() == ids
    assert (tmp_path / "got.parquet").read_bytes() == (tmp_path / "ref.parquet").read_bytes()


def test_empty_file_round_trips(tmp_path: Path) -> None:
    write_features(tmp_path / "e.parquet", [], np.zeros((0, 3, 4), np.float32), META)
    feats = read_features(tmp_path / "e.parquet")
    assert feats.x.shape == (0, 3, 4)
    assert feats.arch_id.tolist() == []


def test_writer_batches_read_back_like_one_shot(tmp_path: Path) -> None:
    n = 1000
    ids, x = _ids(n), _tensor(n, 3, 4)
    with FeatureWriter(tmp_path / "batched.parquet", (3, 4), META) as writer:
        for lo in range(0, n, 128):
            writer.write(ids[lo : lo + 128], x[lo : lo + 128])
    assert writer.rows == n
    feats = read_features(tmp_path / "batched.parquet")
    assert feats.arch_id.tolist() == ids
    np.testing.assert_array_equal(feats.x, x)


def test_writer_batches_give_one_shot_bytes(tmp_path: Path) -> None:
    """Batching is a memory bound only: the file must not depend on it (DVC/Snakemake
    compare outputs by hash, and `nasrank encode --batch-size` must not change them)."""
    n = 1000
    ids, x = _ids(n), _tensor(n, 3, 4)
    write_features(tmp_path / "one.parquet", ids, x, META)
    with FeatureWriter(tmp_path / "batched.parquet", (3, 4), META) as writer:
        for lo in (0, 1, 129, 500, 999):  # uneven batches, one of a single row
            hi = {0: 1, 1: 129, 129: 500, 500: 999, 999: 1000}[lo]
            writer.write(ids[lo:hi], x[lo:hi])
    assert (
        pq.ParquetFile(tmp_path / "batched.parquet").metadata.num_row_groups
        == pq.ParquetFile(tmp_path / "one.parquet").metadata.num_row_groups
    )
    assert (tmp_path / "batched.parquet").read_bytes() == (tmp_path / "one.parquet").read_bytes()


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_values_rejected(tmp_path: Path, bad: float) -> None:
    x = _tensor(4, 3)
    x[2, 1] = bad
    dest = tmp_path / "bad.parquet"
    with pytest.raises(ValueError, match=re.escape(str(dest)) + r".*NaN or inf"):
        write_features(dest, _ids(4), x, META)
    assert _listing(tmp_path) == []


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_float64_overflow_to_inf_rejected(tmp_path: Path) -> None:
    """A finite float64 beyond float32's range becomes inf when stored: rejected too."""
    x = np.ones((2, 2))
    x[0, 0] = 1e300
    with pytest.raises(ValueError, match="NaN or inf"):
        write_features(tmp_path / "big.parquet", _ids(2), x, META)
    assert _listing(tmp_path) == []


def test_wrong_shape_rejected(tmp_path: Path) -> None:
    dest = tmp_path / "shape.parquet"
    message = re.escape(str(dest)) + r".*\(3, 5\).*\(3, 4\)"
    with pytest.raises(ValueError, match=message), FeatureWriter(dest, (3, 4), META) as writer:
        writer.write(_ids(2), _tensor(2, 3, 4))
        writer.write(_ids(2), _tensor(2, 3, 5))
    with pytest.raises(ValueError, match=re.escape(str(dest))), \
            FeatureWriter(dest, (3, 4), META) as writer:
        writer.write(_ids(12), _tensor(12))  # flat rows are not (3, 4) tensors
    assert _listing(tmp_path) == []


def test_id_count_mismatch_rejected(tmp_path: Path) -> None:
    dest = tmp_path / "ids.parquet"
    with pytest.raises(ValueError, match=re.escape(str(dest)) + r".*3 ids for 4 tensors"):
        write_features(dest, _ids(3), _tensor(4, 2), META)
    assert _listing(tmp_path) == []


def test_failure_inside_with_block_leaves_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "partial.parquet"
    with pytest.raises(RuntimeError, match="boom"), FeatureWriter(dest, (2,), META) as writer:
        writer.write(_ids(10), _tensor(10, 2))
        assert len(_listing(tmp_path)) == 1  # the temporary file, not dest
        assert not dest.exists()
        raise RuntimeError("boom")
    assert _listing(tmp_path) == []


def test_failure_keeps_the_previous_file(tmp_path: Path) -> None:
    dest = tmp_path / "keep.parquet"
    write_features(dest, _ids(3), _tensor(3, 2), META)
    before = dest.read_bytes()
    with pytest.raises(KeyboardInterrupt), FeatureWriter(dest, (2,), META) as writer:
        writer.write(_ids(5), _tensor(5, 2, seed=1))
        raise KeyboardInterrupt
    assert dest.read_bytes() == before
    assert _listing(tmp_path) == ["keep.parquet"]


def test_read_without_shape_metadata(tmp_path: Path) -> None:
    x = _tensor(3, 4)
    table = pa.table({
        "arch_id": pa.array(_ids(3)),
        "x": pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), 4),
    })
    plain = tmp_path / "plain.parquet"
    pq.write_table(table, plain)
    with pytest.raises(DataFormatError, match=re.escape(str(plain)) + ".*shape"):
        read_features(plain)
    other = tmp_path / "other_meta.parquet"  # nasrank metadata, but no shape in it
    write_parquet(other, table, {"encoding": "toy"})
    with pytest.raises(DataFormatError, match="shape"):
        read_features(other)


def test_read_rejects_column_not_matching_shape(tmp_path: Path) -> None:
    x = _tensor(3, 4)
    table = pa.table({
        "arch_id": pa.array(_ids(3)),
        "x": pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), 4),
    })
    dest = tmp_path / "mismatch.parquet"
    write_parquet(dest, table, {"shape": [2, 3]})  # 6 values per row, the column has 4
    with pytest.raises(DataFormatError, match=re.escape(str(dest)) + r".*\[6\]"):
        read_features(dest)


def test_torch_shares_memory(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    x = _tensor(6, 2, 3)
    write_features(tmp_path / "t.parquet", _ids(6), x, META)
    feats = read_features(tmp_path / "t.parquet")
    t = feats.torch()
    assert isinstance(t, torch.Tensor)
    assert t.dtype == torch.float32 and tuple(t.shape) == (6, 2, 3)
    assert t.data_ptr() == feats.x.ctypes.data
    # A writable array: torch cannot protect a read-only buffer, and writing through
    # the tensor would then be undefined behaviour.
    assert feats.x.flags.writeable, "Features.x is read-only (a zero-copy view of Arrow memory)"
    feats.x[1, 0, 2] = 42.0
    assert float(t[1, 0, 2]) == 42.0
    t[5, 1, 1] = -7.0
    assert feats.x[5, 1, 1] == -7.0
