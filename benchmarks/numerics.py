"""Speed cost of ``portable`` numerics (nasrank.numerics) against ``fast``.

Runs the real command, ``python -m nasrank --params P sweep ... --evaluate``, once per
mode on the processed tables and features of a checkout that has them (``--data-root``,
default this repository; the models and metrics go to a temporary directory):

* ``gcn``: nb201-cifar10, ``gcn``, losses hr, lr, mse, n = 100, seeds 0-3 (12 runs, the
  loss study's settings: 200 epochs, batch 32);
* ``lenet``: nb101, ``renas_tensor``, loss lr, n = 424, seeds 0-1 (ReNAS Table 2's
  settings).

Beside them, the machine's limit in each mode, measured in the same run: float32 matmul
GFLOP/s (torch, one thread, 512 x 512), which the ``portable`` MKL path caps.

Usage::

    python benchmarks/numerics.py [--data-root ../fresh] [--out results/x.json]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from harness import REPO, emit, machine_info

sys.path.insert(0, str(REPO / "src"))
from nasrank import numerics

SWEEPS = {
    "gcn": ["nb201-cifar10", "gcn", "gcn", "--losses", "hr,lr,mse", "--train-sizes", "100",
            "--seeds", "0,1,2,3"],
    "lenet": ["nb101", "renas_tensor", "lenet", "--losses", "lr", "--train-sizes", "424",
              "--seeds", "0,1"],
}
MATMUL = """
import time, torch
torch.set_num_threads(1)
a, b = torch.randn(512, 512), torch.randn(512, 512)
best = float("inf")
for _ in range(20):
    t = time.perf_counter(); a @ b; best = min(best, time.perf_counter() - t)
print(2 * 512**3 / best / 1e9)
"""


def _env(mode: str) -> dict[str, str]:
    base = {**numerics.unpinned_environ(), "PYTHONPATH": str(REPO / "src")}
    return numerics.pinned_environ(base) if mode == "portable" else base


def _params(work: Path, root: Path, mode: str) -> Path:
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    params["numerics"] = mode
    params["data"]["processed_dir"] = str(root / "data" / "processed")
    params["data"]["features_dir"] = str(root / "data" / "features")
    params["data"]["models_dir"] = str(work / mode / "models")
    params["reports"]["metrics_dir"] = str(work / mode / "metrics")
    path = work / f"{mode}.yaml"
    path.write_text(yaml.safe_dump(params), encoding="utf-8")
    return path


def measure(root: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"machine": machine_info(), "modes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for mode in numerics.MODES:
            env = _env(mode)
            gflops = float(subprocess.run([sys.executable, "-c", MATMUL], env=env, text=True,
                                          capture_output=True, check=True).stdout)
            row: dict[str, Any] = {"float32_matmul_512_gflops_1_thread": round(gflops, 1)}
            for name, argv in SWEEPS.items():
                t0 = time.perf_counter()
                subprocess.run([sys.executable, "-m", "nasrank", "--params",
                                str(_params(work, root, mode)), "-q", "sweep", *argv,
                                "--evaluate"], env=env, check=True, cwd=root)
                row[f"{name}_sweep_s"] = round(time.perf_counter() - t0, 2)
            out["modes"][mode] = row
    fast, port = out["modes"]["fast"], out["modes"]["portable"]
    out["portable_over_fast"] = {k: round(port[k] / fast[k], 2) for k in fast
                                 if k.endswith("_s")}
    out["matmul_fast_over_portable"] = round(
        fast["float32_matmul_512_gflops_1_thread"]
        / port["float32_matmul_512_gflops_1_thread"], 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-root", type=Path, default=REPO,
                    help="a checkout with data/processed and data/features")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    emit(measure(args.data_root.resolve()), args.out)


if __name__ == "__main__":
    main()
