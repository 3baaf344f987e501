"""TransNAS-Bench-101 micro encodings, and the exact cost model behind its ReNAS tensor.

The cell is encoded as the 8-node DAG of :mod:`nasrank.encodings.cell_dag` (input, the 6
edges' op-nodes in arch-string order, output; ``none`` op-nodes pruned, slots kept).
Node type codes: input 1, skip_connect 2, nor_conv_1x1 3, nor_conv_3x3 4, output 5
(0 = pruned / no node).

* ``renas_tensor`` (21 x 8 x 8): the type matrix, then the FLOPs matrices of the 10 cells
  of the encoder, then their parameter matrices (``M[c, i, j] = A[i, j] * cost_c[j]``,
  as for NB201), for the 256x256-input encoder every task but jigsaw uses (the decoders
  are task-specific and outside the cells). FLOPs convention: the ``flops`` option
  (``macs`` by default, or ``naslib``).
* ``type_matrix`` (1 x 8 x 8), ``adjacency_onehot`` (46 = 28 + 6 x 3), ``gcn`` (8 x 14:
  adjacency 8 | type one-hot 5 | mask 1), ``path`` (39 = 3 + 9 + 27): see
  :mod:`nasrank.encodings.cell_dag`.

The network (``MacroNet("64-41414-a_bc_def")`` of TransNAS-Bench-101 as NASLib ships it):
stem conv3x3 3 -> 32 (stride 2, no bias) + BN, then ReLU-conv3x3(32 -> 64, stride 2)-BN;
five layers of two cells, macro code ``4 1 4 1 4`` (4: channels x2 and stride 2 in the
layer's first cell, 1: unchanged), so cells run 64 -> 128 -> 128 -> 256 -> 256 -> 512
channels on a 64 -> 32 -> 16 -> 8 feature grid for a 256x256 input. In a cell, edges
leaving the cell input use ``(C_in, C_out, stride)``, the others ``(C_out, C_out, 1)``;
ops: ``none`` costs nothing, ``skip_connect`` is the identity, or, where the stride is 2
or the channels change, a FactorizedReduce (ReLU, two 1x1 convs C_in -> C_out/2 with
stride 2, concatenation, BN); ``nor_conv_kxk`` is ReLU-conv(no bias)-BN. Task heads
(:func:`head_costs`): class_scene / class_object / room_layout average-pool and a linear
layer to 63 / 100 / 9 outputs; jigsaw runs the encoder on 64x64 tiles and a linear layer
on the 9 concatenated tiles (4,608 -> 1,000); autoencoder and normal a 14-layer
GenerativeDecoder to 3 channels (its GAN discriminator is not counted), segmentsemantic
an 8-layer SegmentationDecoder to 17 classes.

Costs follow the two conventions of :mod:`nasrank.spaces.nb201_network` (``macs``:
conv/linear multiply-accumulates; ``naslib``: tensorwatch's rules: + conv bias, BN 2 per
element, ReLU/LeakyReLU 1 per input element, adaptive pooling ``C (H+1) (W+1)``,
transposed convolutions not counted). With them the totals equal NASLib's ``params`` and
``flops`` columns of ``zc_transbench101_micro.json`` exactly for all 711 cells of each of
the 7 tasks (checked in the tests); the jigsaw figures are those of one 64x64 tile
through the encoder, as NASLib measured them. The cell part is the same for every task
except jigsaw (whose cell FLOPs are those of the 256 network divided by 16).

Usage::

    costs = cell_costs(op_index)     # (N, 6) indices into OPS -> params, flops: (N, 10, 6)
    totals = network_totals(op_index, "class_scene")   # params, macs, naslib per cell
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from nasrank.encodings import Encoding
from nasrank.encodings.cell_dag import (
    EDGES,
    SPEC_COLUMNS,
    EdgeCellSpace,
    V,
    op_indices,
    renas_tensor,
    standard_encodings,
)
from nasrank.errors import ConfigError
from nasrank.spaces.tnb101 import OPS

SPACE = EdgeCellSpace("tnb101_micro", OPS)
BASE_CHANNELS = 64
MACRO_CODE = "41414"
CELLS_PER_LAYER = 2
NUM_CELLS = CELLS_PER_LAYER * len(MACRO_CODE)  # 10
IMAGE_SIZE = 256
JIGSAW_TILE = 64
JIGSAW_TILES = 9
CONVENTIONS = ("macs", "naslib")
#: task -> outputs of the feed-forward head (average pooling + linear layer)
FF_TASKS: dict[str, int] = {"class_scene": 63, "class_object": 100, "room_layout": 9}
TASKS: tuple[str, ...] = (
    "class_scene", "class_object", "room_layout", "jigsaw", "autoencoder", "normal",
    "segmentsemantic",
)
_KERNEL = {"nor_conv_1x1": 1, "nor_conv_3x3": 3}


@dataclass(frozen=True)
class CellCosts:
    """Per-edge costs of the 10 encoder cells.

    Attributes:
        image_size: input resolution the FLOPs are for (256; 64 for a jigsaw tile).
        params: ``(N, 10, 6)`` int64 trainable parameters per cell and edge.
        flops: ``(N, 10, 6)`` int64 multiply-accumulates.
        flops_naslib: ``(N, 10, 6)`` int64 FLOPs in NASLib's convention.
    """

    image_size: int
    params: np.ndarray
    flops: np.ndarray
    flops_naslib: np.ndarray


def cell_layout(image_size: int = IMAGE_SIZE) -> list[tuple[int, int, int, int, int]]:
    """``(C_in, C_out, stride, size_in, size_out)`` of the 10 cells in network order."""
    out = []
    c_in, size = BASE_CHANNELS, image_size // 4
    for code in MACRO_CODE:
        layer = int(code)
        c_out = c_in * 2 if layer % 2 == 0 else c_in
        stride = 2 if layer > 2 else 1
        for cell in range(CELLS_PER_LAYER):
            s = stride if cell == 0 else 1
            out.append((c_in if cell == 0 else c_out, c_out, s, size, size // s))
            size //= s
        c_in = c_out
    return out


def _edge_op_cost(op: str, c_in: int, c_out: int, stride: int, s_in: int, s_out: int):
    """``(params, macs, naslib)`` of one op."""
    relu_bn = c_in * s_in * s_in + 2 * c_out * s_out * s_out
    if op in _KERNEL:
        k2 = _KERNEL[op] ** 2
        macs = k2 * c_in * c_out * s_out * s_out
        return k2 * c_in * c_out + 2 * c_out, macs, macs + relu_bn
    if op == "skip_connect" and (stride != 1 or c_in != c_out):  # FactorizedReduce
        macs = c_in * c_out * s_out * s_out
        return c_in * c_out + 2 * c_out, macs, macs + relu_bn
    return 0, 0, 0


def op_cost_table(image_size: int = IMAGE_SIZE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(params, macs, naslib)``, each ``(10, 6, 4)``: op ``OPS[o]`` on edge e of cell c."""
    shape = (NUM_CELLS, len(EDGES), len(OPS))
    tables = tuple(np.zeros(shape, dtype=np.int64) for _ in range(3))
    for cell, (c_in, c_out, stride, s_in, s_out) in enumerate(cell_layout(image_size)):
        for e, (_, src) in enumerate(EDGES):
            args = (c_in, c_out, stride, s_in, s_out) if src == 0 else (c_out, c_out, 1,
                                                                          s_out, s_out)
            for o, op in enumerate(OPS):
                for t, v in zip(tables, _edge_op_cost(op, *args), strict=True):
                    t[cell, e, o] = v
    return tables


def cell_costs(op_index: np.ndarray, image_size: int = IMAGE_SIZE) -> CellCosts:
    """Per-edge costs of the 10 cells for a batch of cells.

    Args:
        op_index: ``(N, 6)`` indices into :data:`~nasrank.spaces.tnb101.OPS`, edges in
            arch-string order.
        image_size: 256, or 64 for the jigsaw tiles.
    """
    op_index = np.asarray(op_index, dtype=np.int64)
    cells = np.arange(NUM_CELLS)[None, :, None]
    edges = np.arange(len(EDGES))[None, None, :]
    p, f, fn = (t[cells, edges, op_index[:, None, :]] for t in op_cost_table(image_size))
    return CellCosts(image_size=image_size, params=p, flops=f, flops_naslib=fn)


def _conv_layer(c_in: int, c_out: int, k: int, s_out: int, *, bias: bool, bn: bool,
                act: bool, transposed: bool = False) -> tuple[int, int, int]:
    """``(params, macs, naslib)`` of a conv (transposed: doubles the size) + BN + act."""
    elems = c_out * s_out * s_out
    s_in = s_out // 2 if transposed else s_out
    macs = k * k * c_in * c_out * s_in * s_in
    naslib = 0 if transposed else macs + (elems if bias else 0)
    naslib += (2 * elems if bn else 0) + (elems if act else 0)
    params = k * k * c_in * c_out + (c_out if bias else 0) + (2 * c_out if bn else 0)
    return params, macs, naslib


def _decoder_costs(task: str, size: int) -> tuple[int, int, int]:
    """GenerativeDecoder (autoencoder, normal) or SegmentationDecoder (segmentsemantic)."""
    # (c_in, c_out, transposed), then the last plain conv (c_in, c_out)
    if task == "segmentsemantic":
        layers = [(512, 1024, False), (1024, 512, False), (512, 256, True), (256, 128, True),
                  (128, 64, True), (64, 32, True), (32, 32, True)]
        last = (32, 17)
    else:
        layers = [(512, 1024, False), (1024, 1024, False), (1024, 512, False),
                  (512, 512, False), (512, 256, True), (256, 128, False), (128, 64, True),
                  (64, 64, False), (64, 32, True), (32, 32, False), (32, 16, True),
                  (16, 32, False), (32, 16, True)]
        last = (16, 3)
    total = np.zeros(3, dtype=np.int64)
    for c_in, c_out, transposed in layers:
        size = size * 2 if transposed else size
        total += _conv_layer(c_in, c_out, 3, size, bias=True, bn=True, act=True,
                             transposed=transposed)
    total += _conv_layer(*last, 3, size, bias=True, bn=False, act=False)
    return int(total[0]), int(total[1]), int(total[2])


def head_costs(task: str) -> dict[str, int]:
    """Stem and task head/decoder costs: ``params``, ``macs`` and ``naslib`` FLOPs.

    Raises:
        ValueError: unknown task.
    """
    if task not in TASKS:
        raise ValueError(f"unknown TNB101 task {task!r}; use one of {', '.join(TASKS)}")
    size = JIGSAW_TILE if task == "jigsaw" else IMAGE_SIZE
    half, quarter = size // 2, size // 4
    params = 27 * 32 + 2 * 32 + 9 * 32 * 64 + 2 * 64
    macs = 27 * 32 * half**2 + 9 * 32 * 64 * quarter**2
    naslib = macs + 2 * 32 * half**2 + 32 * half**2 + 2 * 64 * quarter**2
    c_last, s_last = cell_layout(size)[-1][1], cell_layout(size)[-1][4]
    if task in FF_TASKS or task == "jigsaw":
        tiles = JIGSAW_TILES if task == "jigsaw" else 1
        width = c_last * tiles
        outputs = 1000 if task == "jigsaw" else FF_TASKS[task]
        params += width * outputs + outputs
        macs += width * outputs
        naslib += width * outputs + width * (s_last + 1) ** 2
    else:
        p, m, n = _decoder_costs(task, s_last)
        params, macs, naslib = params + p, macs + m, naslib + n
    return {"params": params, "macs": macs, "naslib": naslib}


def network_totals(op_index: np.ndarray, task: str) -> dict[str, np.ndarray]:
    """Total ``params``, ``macs`` and ``naslib`` FLOPs of each cell's network for ``task``."""
    costs = cell_costs(op_index, JIGSAW_TILE if task == "jigsaw" else IMAGE_SIZE)
    fixed = head_costs(task)
    return {
        "params": costs.params.sum(axis=(1, 2)) + fixed["params"],
        "macs": costs.flops.sum(axis=(1, 2)) + fixed["macs"],
        "naslib": costs.flops_naslib.sum(axis=(1, 2)) + fixed["naslib"],
    }


def encode_renas_tensor(table: pa.Table, options: dict[str, Any]) -> np.ndarray:
    convention = options.get("flops", "macs")
    if convention not in CONVENTIONS:
        raise ConfigError(
            f"unknown FLOPs convention {convention!r} for tnb101_micro renas_tensor; "
            f"use one of {', '.join(CONVENTIONS)}"
        )
    costs = cell_costs(op_indices(table, OPS))
    flops = costs.flops if convention == "macs" else costs.flops_naslib
    return renas_tensor(SPACE, table, options, costs.params, flops)


ENCODINGS: dict[str, Encoding] = {
    "renas_tensor": Encoding(
        name="renas_tensor",
        shape=(1 + 2 * NUM_CELLS, V, V),
        description="ReNAS feature tensor of the TNB101-micro node-op DAG: type matrix, "
        "FLOPs matrices of the 10 encoder cells (256x256 input), parameter matrices of the "
        "10 cells; node values broadcast over columns",
        encode=encode_renas_tensor,
        options={"flops": "macs", "prune": "none_ops"},
        columns=SPEC_COLUMNS,
    ),
    **standard_encodings(SPACE),
}
