"""Numerics modes (nasrank.numerics), the exact root (nasrank.exact) and the cross-CPU test.

The cross-CPU test runs ``nasrank.fingerprint`` (a GCN sweep with ``lr`` and ``hr``, a
ReNAS LeNet, a GP and learning-curve fits) in ``portable`` mode natively and under
``qemu-x86_64`` as CPUs this machine is not: ``Nehalem`` (Intel, no AVX, no AVX2, no
FMA) and ``EPYC-Rome`` (AMD, AVX2; qemu emulates no AVX-512, so the native run is the
AVX-512 one where this machine has it), and asserts the same digests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml

from nasrank import numerics
from nasrank.errors import NasrankError
from nasrank.exact import sqrt, sqrt_values

REPO = Path(__file__).resolve().parents[1]
#: CPU models qemu-user emulates, besides the native CPU
EMULATED = ("Nehalem", "EPYC-Rome")


def _unpinned() -> dict[str, str]:
    return {**numerics.unpinned_environ(), "PYTHONPATH": str(REPO / "src")}


# --- the pins -------------------------------------------------------------------------


def test_pinned_environ_sets_every_pin_and_keeps_other_tunables() -> None:
    env = numerics.pinned_environ({"GLIBC_TUNABLES": "glibc.malloc.arena_max=2", "X": "1"})
    assert numerics.missing_pins(env) == [] and numerics.active(env) == "portable"
    assert env["GLIBC_TUNABLES"] == f"glibc.malloc.arena_max=2:{numerics.GLIBC_HWCAPS}"
    assert env["X"] == "1"
    assert numerics.pinned_environ(env) == env  # idempotent


def test_a_missing_or_changed_pin_is_fast_mode() -> None:
    env = numerics.pinned_environ({})
    for key in numerics.PINS:
        other = {k: v for k, v in env.items() if k != key}
        assert numerics.missing_pins(other) == [key]
        assert numerics.active(other) == "fast"
    assert numerics.missing_pins({**env, "MKL_CBWR": "AUTO"}) == ["MKL_CBWR"]


@pytest.mark.parametrize(("flag", "text", "mode"), [
    ("--params", "numerics: portable\n", "portable"),
    ("--params=", "numerics: fast\n", "fast"),
    ("--params", "data: {}\n", numerics.DEFAULT_MODE),
    ("--params", "numerics: turbo\n", numerics.DEFAULT_MODE),  # the schema then says so
    ("--params", None, numerics.DEFAULT_MODE),  # no file: the command says so
])
def test_requested_mode(tmp_path: Path, flag: str, text: str | None, mode: str) -> None:
    p = tmp_path / "params.yaml"
    if text is not None:
        p.write_text(text, encoding="utf-8")
    argv = [f"--params={p}"] if flag.endswith("=") else [flag, str(p)]
    assert numerics.requested_mode([*argv, "-q", "sweep", "nb101"]) == mode


def test_check_names_the_file_and_the_missing_pins(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in numerics.PINS:
        monkeypatch.delenv(key, raising=False)
    numerics.check("fast", "p.yaml")
    with pytest.raises(NasrankError, match=r"p\.yaml: numerics 'portable' needs "
                                           r"ATEN_CPU_CAPABILITY, MKL_CBWR"):
        numerics.check("portable", "p.yaml")
    monkeypatch.setattr(os, "environ", numerics.pinned_environ())
    numerics.check("portable", "p.yaml")


def test_provenance_records_what_decides_the_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "environ", numerics.pinned_environ())
    p = numerics.provenance()
    assert p["mode"] == "portable" and set(p["pins"]) == set(numerics.PINS)
    assert "cpu" not in p  # the same bytes on every CPU: not recorded with them
    assert p["versions"]["torch"] == torch.__version__
    monkeypatch.setattr(os, "environ", {})
    p = numerics.provenance()
    assert p["mode"] == "fast" and p["cpu"] == numerics.machine()["cpu"] and "pins" not in p
    assert isinstance(p["isa"], list)


def test_schema_rejects_an_unknown_mode(tmp_path: Path) -> None:
    from nasrank.config import load_params

    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    params["numerics"] = "turbo"
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump(params), encoding="utf-8")
    with pytest.raises(NasrankError, match="numerics"):
        load_params(p)


def test_constraints_pin_every_versioned_library() -> None:
    """constraints.txt (what `make` installs with) pins each library whose version the
    provenance records, torch in the Makefile: a fresh clone gets the committed ones."""
    import re

    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$",
                           (REPO / "constraints.txt").read_text(encoding="utf-8"), re.M))
    assert set(numerics.VERSIONED) - {"torch"} <= set(pins), pins
    torch_pin = re.search(r"^TORCH \?= torch==(\S+)$",
                          (REPO / "Makefile").read_text(encoding="utf-8"), re.M)
    assert torch_pin is not None
    assert "-c constraints.txt" in (REPO / "Makefile").read_text(encoding="utf-8")


def test_every_computing_stage_depends_on_the_mode() -> None:
    from nasrank.config import load_params
    from nasrank.jobs import all_jobs

    jobs = list(all_jobs(load_params(REPO / "params.yaml")))
    assert all(("numerics" in j.params) == (j.rule != "fetch") for j in jobs)


# --- the command restarts itself with the pins ------------------------------------------


def _fingerprint_cli(tmp_path: Path, mode: str) -> dict[str, Any]:
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    params["numerics"] = mode
    p = tmp_path / f"{mode}.yaml"
    p.write_text(yaml.safe_dump(params), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "nasrank", "--params", str(p), "fingerprint"],
                         env=_unpinned(), capture_output=True, text=True, check=True,
                         timeout=600)
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def native(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The fingerprint of `nasrank fingerprint` started without pins, portable mode."""
    return _fingerprint_cli(tmp_path_factory.mktemp("fp"), "portable")


def test_the_command_restarts_itself_in_portable_mode(native: dict[str, Any]) -> None:
    assert native["mode"] == "portable"
    assert {"gcn-lr-s0", "gcn-hr-s1", "lenet-lr-s0", "gp", "lce"} <= set(native["digests"])


def test_fast_mode_pins_nothing(tmp_path: Path, native: dict[str, Any]) -> None:
    fast = _fingerprint_cli(tmp_path, "fast")
    assert fast["mode"] == "fast"
    if {"avx2", "fma"} <= set(numerics.machine()["isa"]):
        # this CPU's own kernels round differently from the pinned ones
        assert fast["digests"]["gcn-lr-s0"] != native["digests"]["gcn-lr-s0"]


# --- the same bytes on other CPUs -------------------------------------------------------


def _qemu() -> str:
    """qemu-x86_64, installed from Debian's packages where it is missing (skip if it
    cannot be)."""
    found = shutil.which("qemu-x86_64")
    if found:
        return found
    if os.uname().machine != "x86_64":
        pytest.skip("the cross-CPU test emulates x86-64 CPUs on an x86-64 host")
    if not shutil.which("apt-get") or os.geteuid() != 0:
        pytest.skip("qemu-x86_64 is not installed and apt-get as root is not available "
                    "to install it (Debian package qemu-user)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "qemu-user"]
    if subprocess.run(cmd, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
        subprocess.run(cmd, env=env, capture_output=True)
    found = shutil.which("qemu-x86_64")
    if not found:
        pytest.skip("apt-get could not install qemu-user (no package index reachable?)")
    return found


def _emulated(qemu: str, cpu: str) -> dict[str, Any]:
    out = subprocess.run([qemu, "-cpu", cpu, sys.executable, "-m", "nasrank.fingerprint"],
                         env=numerics.pinned_environ(_unpinned()), capture_output=True,
                         text=True, timeout=900)
    assert out.returncode == 0, f"{cpu}: {out.stderr[-2000:]}"
    return json.loads(out.stdout)


def test_portable_bytes_are_the_same_on_other_cpus(native: dict[str, Any]) -> None:
    qemu = _qemu()
    with ThreadPoolExecutor(len(EMULATED)) as pool:
        runs = dict(zip(EMULATED, pool.map(lambda c: _emulated(qemu, c), EMULATED),
                        strict=True))
    for cpu, run in runs.items():
        assert run["mode"] == "portable", cpu
        differ = [k for k in native["digests"] if run["digests"][k] != native["digests"][k]]
        assert not differ, f"{cpu} differs from {numerics.machine()['cpu']} in {differ}"


# --- the exact root ------------------------------------------------------------------


def test_sqrt_is_correctly_rounded() -> None:
    """Both constructions (numpy's root; float64 root and midpoints, under vmap) give the
    IEEE root, which numpy's float32 ``sqrt`` is."""
    g = torch.Generator().manual_seed(0)
    vmapped = torch.func.vmap(sqrt_values)
    for scale in (1e-40, 1e-12, 1.0, 1e30):
        x = (torch.rand(200_000, generator=g, dtype=torch.float64) * scale).float()
        expected = np.sqrt(x.numpy())
        assert np.array_equal(sqrt(x).numpy(), expected), scale
        assert np.array_equal(vmapped(x.reshape(4, -1)).reshape(-1).numpy(), expected), scale
    special = torch.tensor([0.0, 1e-45, 4.0, float("inf"), float("nan"), -1.0])
    with np.errstate(invalid="ignore"):
        expected = np.sqrt(special.numpy())
    np.testing.assert_array_equal(sqrt_values(special).numpy(), expected)
    np.testing.assert_array_equal(vmapped(special[None]).numpy()[0], expected)


def test_sqrt_gradient_is_torchs_formula_on_the_exact_root() -> None:
    x = torch.tensor([0.25, 2.0, 3e-5], requires_grad=True)
    r = sqrt(x)
    r.sum().backward()
    assert torch.equal(x.grad, 1 / (2 * r.detach()))
    y = torch.tensor([0.25, 2.0, 3e-5], requires_grad=True)
    torch.sqrt(y).sum().backward()
    torch.testing.assert_close(x.grad, y.grad)
