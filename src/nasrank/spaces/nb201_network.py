"""Exact per-edge parameters and FLOPs of the NAS-Bench-201 network built from a cell.

The NAS-Bench-201 network (``TinyNetwork`` of D-X-Y/AutoDL-Projects with ``InferCell``):

* stem: conv3x3 3 -> 16 (no bias) + BN, on 32x32 (CIFAR) or 16x16 (ImageNet16-120) input;
* 3 stages of 5 cells with C = 16, 32, 64 channels; a ResNet basic block between stages
  (``ResNetBasicblock``, stride 2, C -> 2C): ``conv_a`` ReLU-conv3x3(stride 2)-BN,
  ``conv_b`` ReLU-conv3x3-BN, shortcut AvgPool2d(2, 2) + conv1x1 (no bias, no BN), added;
* cell ops (all C -> C, stride 1): ``nor_conv_kxk`` = ReLU-conv kxk (no bias)-BN,
  ``avg_pool_3x3`` = AvgPool2d(3, 1, 1) without parameters (equal channels, so no
  preprocessing conv), ``skip_connect`` = identity, ``none`` = zero; a node sums its
  inputs;
* head: BN + ReLU (``lastact``), global average pooling, linear 64 -> 10 / 100 / 120
  classes (with bias).

Every BatchNorm is affine (2 trainable parameters per channel). With that, the parameter
totals equal NASLib's ``params`` column (``zc_nasbench201.json``, in millions) for all
725 / 725 / 724 cells of cifar10 / cifar100 / ImageNet16-120.

FLOPs come in two conventions (one image):

* ``macs``: multiply-accumulates of the convolutions and of the linear layer (bias, BN,
  ReLU, pooling and additions excluded), as the ``macs`` convention of
  :mod:`nasrank.spaces.nb101_network`.
* ``naslib``: NASLib's ``flops`` column (in millions), which NASLib measured with
  tensorwatch's ``ModelStats`` (torchstat rules): convolution MACs (+ bias), linear
  in x out (bias not counted), BatchNorm 2 per element (affine), ReLU 1 per *input*
  element, AvgPool2d/MaxPool2d k*k per output element, and AdaptiveAvgPool2d to 1x1
  over an HxW map ``C * (H + 1) * (W + 1)`` (tensorwatch's SDPoint formula counts
  ``end - start + 1`` rows and columns). Identity, zero and the additions cost nothing.
  A cell's conv op thus costs ``k*k*C*C*H*W + 3*C*H*W`` and an avg-pool ``9*C*H*W``.
  The totals equal NASLib's ``flops`` for all 725 / 725 / 724 cells (checked in the
  tests; found by comparing the candidate rules with the file, then checked cell by
  cell).

Per-edge attribution (used by the ReNAS tensor): each edge owns its op's cost in each of
the 15 cells; the stem, the two residual blocks and the head are the fixed part
(:func:`fixed_costs`).

Usage::

    costs = cell_costs(op_index, "cifar10")       # op_index: (N, 6) indices into OPS
    costs.params.shape                            # (N, 15, 6)
    network_params(costs), network_flops(costs, "naslib")
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nasrank.spaces.nb201 import OPS

STEM_CHANNELS = 16
STAGE_CHANNELS: tuple[int, ...] = (16, 32, 64)
CELLS_PER_STAGE = 5
NUM_CELLS = CELLS_PER_STAGE * len(STAGE_CHANNELS)  # 15
#: dataset -> (input resolution, classes)
DATASETS: dict[str, tuple[int, int]] = {
    "cifar10": (32, 10),
    "cifar100": (32, 100),
    "ImageNet16-120": (16, 120),
}
BN_RELU_FLOPS = 3  # ReLU (1 per input element) + affine BN (2 per output element)
CONVENTIONS = ("macs", "naslib")
_KERNEL = {"nor_conv_1x1": 1, "nor_conv_3x3": 3}


@dataclass(frozen=True)
class CellCosts:
    """Per-edge costs of every cell of the network.

    Attributes:
        dataset: the network's dataset (resolution and classes), a key of
            :data:`DATASETS`.
        params: ``(N, 15, 6)`` int64 trainable parameters per cell and edge (edges in
            arch-string order).
        flops: ``(N, 15, 6)`` int64 multiply-accumulates.
        flops_naslib: ``(N, 15, 6)`` int64 FLOPs in NASLib's convention.
    """

    dataset: str
    params: np.ndarray
    flops: np.ndarray
    flops_naslib: np.ndarray


def _dataset(dataset: str) -> tuple[int, int]:
    try:
        return DATASETS[dataset]
    except KeyError:
        raise ValueError(
            f"unknown NB201 dataset {dataset!r}; use one of {', '.join(DATASETS)}"
        ) from None


def cell_layout(image_size: int = 32) -> list[tuple[int, int]]:
    """``(channels, spatial size)`` of the 15 cells in network order."""
    return [
        (c, image_size >> stage)
        for stage, c in enumerate(STAGE_CHANNELS)
        for _ in range(CELLS_PER_STAGE)
    ]


def op_cost_table(image_size: int = 32) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(params, macs, naslib)``, each ``(15, 5)`` int64: cost of op ``OPS[o]`` in cell c."""
    shape = (NUM_CELLS, len(OPS))
    params, macs, naslib = (np.zeros(shape, dtype=np.int64) for _ in range(3))
    for cell, (c, size) in enumerate(cell_layout(image_size)):
        elems = c * size * size
        for o, op in enumerate(OPS):
            if op in _KERNEL:
                k2 = _KERNEL[op] ** 2
                params[cell, o] = k2 * c * c + 2 * c
                macs[cell, o] = k2 * c * c * size * size
                naslib[cell, o] = macs[cell, o] + BN_RELU_FLOPS * elems
            elif op == "avg_pool_3x3":
                naslib[cell, o] = 9 * elems
    return params, macs, naslib


def cell_costs(op_index: np.ndarray, dataset: str = "cifar10") -> CellCosts:
    """Per-edge parameters and FLOPs of all 15 cells for a batch of cells.

    Args:
        op_index: ``(N, 6)`` indices into :data:`~nasrank.spaces.nb201.OPS`, edges in
            arch-string order.
        dataset: a key of :data:`DATASETS` (sets the input resolution).

    Returns:
        :class:`CellCosts` with arrays of shape ``(N, 15, 6)``.
    """
    size, _ = _dataset(dataset)
    op_index = np.asarray(op_index, dtype=np.int64)
    tables = op_cost_table(size)
    cells = np.arange(NUM_CELLS)[None, :, None]
    p, f, fn = (t[cells, op_index[:, None, :]] for t in tables)
    return CellCosts(dataset=dataset, params=p, flops=f, flops_naslib=fn)


def fixed_costs(dataset: str = "cifar10") -> dict[str, int]:
    """Costs outside the cells: ``params``, ``macs`` and ``naslib`` FLOPs."""
    size, classes = _dataset(dataset)
    params = 27 * STEM_CHANNELS + 2 * STEM_CHANNELS
    macs = 27 * STEM_CHANNELS * size * size
    extra = 2 * STEM_CHANNELS * size * size  # stem BN
    c_in = STAGE_CHANNELS[0]
    for c in STAGE_CHANNELS[1:]:
        size //= 2
        out = c * size * size
        params += 9 * c_in * c + 2 * c + 9 * c * c + 2 * c + c_in * c
        macs += (9 * c_in * c + 9 * c * c + c_in * c) * size * size
        # conv_a: ReLU on its (larger) input; conv_b: ReLU; two BNs; shortcut 2x2 pool
        extra += c_in * (2 * size) ** 2 + 2 * out + out + 2 * out + 4 * c_in * size * size
        c_in = c
    params += 2 * c_in + c_in * classes + classes
    macs += c_in * classes
    extra += 3 * c_in * size * size + c_in * (size + 1) ** 2  # lastact BN+ReLU, pooling
    return {"params": params, "macs": macs, "naslib": macs + extra}


def network_params(costs: CellCosts) -> np.ndarray:
    """Total trainable parameters of each network (``costs.dataset``'s classifier)."""
    return costs.params.sum(axis=(1, 2)) + fixed_costs(costs.dataset)["params"]


def network_flops(costs: CellCosts, convention: str = "macs") -> np.ndarray:
    """Total FLOPs of each network for one image (``macs`` or ``naslib``)."""
    if convention == "macs":
        return costs.flops.sum(axis=(1, 2)) + fixed_costs(costs.dataset)["macs"]
    if convention == "naslib":
        return costs.flops_naslib.sum(axis=(1, 2)) + fixed_costs(costs.dataset)["naslib"]
    raise ValueError(f"unknown FLOPs convention {convention!r}; use 'macs' or 'naslib'")
