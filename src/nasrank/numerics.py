"""Numerics modes: the same bytes on any x86-64 CPU, or the libraries' fastest kernels.

The numerical libraries under nasrank choose their kernels by the CPU they find: torch's
ATen (vectorised exp/log and sums for AVX2 or AVX-512), MKL (matrix products, a code
path per ISA and per vendor), oneDNN (LeNet's convolutions), OpenBLAS (numpy and scipy:
the GP's Cholesky, the learning-curve fits), numpy's own SIMD loops, and glibc's libm
(``exp``/``log``/``pow`` with FMA on CPUs that have it). Each choice changes the last bits
of a result, and training amplifies them: the same run gave Kendall tau 0.5373 on one CPU
kind and 0.5428 on another. ``portable`` mode pins every one of them to a code path that
every x86-64-v2 CPU runs the same way (:data:`PINS`: environment variables read when the
libraries load, so the ``nasrank`` command sets them and restarts itself before it imports
any of them). ``fast`` mode pins nothing: 2x faster on an AVX-512 CPU, bytes that
depend on the CPU.

Usage::

    # params.yaml
    numerics: portable          # the default, as the committed results; or fast
    $ nasrank sweep ...         # re-executes itself with the pins when they are missing

    from nasrank import numerics
    numerics.active()           # 'portable' when this process has every pin
    numerics.provenance()       # what config.json, metrics and results record
    numerics.machine()          # the CPU, recorded beside the measured times

A library user who calls nasrank in-process in ``portable`` mode starts Python with the
pins: ``python -m nasrank.numerics python my_script.py`` (or ``eval "$(python -m
nasrank.numerics)"`` in the shell first).
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from nasrank.errors import NasrankError

MODES = ("portable", "fast")
#: params.yaml's mode (and what a params file that cannot be read counts as before the
#: command reports it): the mode the committed results were made in
DEFAULT_MODE = "portable"
PORTABLE, FAST = MODES

#: glibc's libm picks FMA/AVX2 variants of exp, log, pow, sin... by the CPU (ifuncs);
#: this tunable, read by the dynamic loader at process start, turns them off
GLIBC_HWCAPS = "glibc.cpu.hwcaps=-AVX2,-FMA,-FMA4"

#: environment variable -> (value in portable mode, what it pins). Read when each
#: library loads, so they must be in the environment before the process imports it.
PINS: dict[str, tuple[str, str]] = {
    "ATEN_CPU_CAPABILITY": (
        "default", "torch ATen kernels without AVX2/AVX-512 dispatch: Sleef exp/log/tanh "
        "and the lane order of vectorised sums"),
    "MKL_CBWR": (
        "COMPATIBLE,STRICT", "MKL (torch's matrix products and vector maths) on its "
        "conditional-numerical-reproducibility code path, the same on Intel and AMD"),
    "DNNL_MAX_CPU_ISA": (
        "SSE41", "oneDNN (LeNet's convolutions) limited to its SSE4.1 kernels"),
    "OPENBLAS_CORETYPE": (
        "Nehalem", "OpenBLAS in numpy and scipy (GP Cholesky, curve fits) on its "
        "Nehalem kernels"),
    "OPENBLAS_NUM_THREADS": (
        "1", "OpenBLAS on one thread: the split of a product does not follow the cores"),
    "NPY_DISABLE_CPU_FEATURES": (
        "X86_V3 X86_V4 AVX512_ICL AVX512_SPR", "numpy's SIMD loops at its x86-64-v2 "
        "baseline (numpy >= 2.4 names)"),
    "GLIBC_TUNABLES": (
        GLIBC_HWCAPS, "glibc libm without its FMA/AVX2 variants (read at process start)"),
}

#: packages whose version can change a result's bytes
VERSIONED = ("torch", "numpy", "scipy", "scikit-learn", "xgboost-cpu", "lightgbm", "pandas",
             "pyarrow")

#: /proc/cpuinfo flags that decide the kernels above (recorded in fast mode)
ISA_FLAGS = ("sse4_2", "avx", "fma", "avx2", "avx512f", "avx512bw", "avx512_vnni",
             "avx512_bf16", "amx_tile")

#: set on the restarted process, so a restart that did not take is an error, not a loop
_REEXEC = "NASRANK_NUMERICS_REEXEC"


class NumericsError(NasrankError):
    """The process does not run in the numerics mode params.yaml asks for."""


def _has(environ: Mapping[str, str], key: str, value: str) -> bool:
    if key == "GLIBC_TUNABLES":
        return value in environ.get(key, "").split(":")
    return environ.get(key) == value


def missing_pins(environ: Mapping[str, str] | None = None) -> list[str]:
    """The portable pins ``environ`` (default: this process's) lacks or sets otherwise."""
    env = os.environ if environ is None else environ
    return [k for k, (v, _) in PINS.items() if not _has(env, k, v)]


def active(environ: Mapping[str, str] | None = None) -> str:
    """``portable`` when every pin is set, else ``fast``."""
    return FAST if missing_pins(environ) else PORTABLE


def unpinned_environ(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of ``environ`` without any pin (nor the restart marker): a fresh process of
    it starts as a user's would, and restarts itself if its params ask for portable."""
    env = os.environ if environ is None else environ
    return {k: v for k, v in env.items() if k not in PINS and k != _REEXEC}


def pinned_environ(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of ``environ`` with every portable pin set (other glibc tunables kept)."""
    env = dict(os.environ if environ is None else environ)
    for key, (value, _) in PINS.items():
        if key == "GLIBC_TUNABLES" and env.get(key) and not _has(env, key, value):
            env[key] = f"{env[key]}:{value}"
        elif not _has(env, key, value):
            env[key] = value
    return env


def requested_mode(argv: Sequence[str]) -> str:
    """The mode of the params file named by ``--params`` in ``argv`` (``params.yaml``).

    Read without importing numpy or torch. An unreadable file or a bad value gives the
    default: the command itself then reports the error with the file's name.
    """
    path = "params.yaml"
    for i, arg in enumerate(argv):
        if arg == "--params" and i + 1 < len(argv):
            path = argv[i + 1]
        elif arg.startswith("--params="):
            path = arg.split("=", 1)[1]
    try:
        import yaml

        with open(path, encoding="utf-8") as f:
            mode = (yaml.safe_load(f) or {}).get("numerics", DEFAULT_MODE)
    except (OSError, ValueError, AttributeError, ImportError):
        return DEFAULT_MODE
    return mode if mode in MODES else DEFAULT_MODE


def ensure_process(argv: Sequence[str]) -> None:
    """Restart this command with the pins when its params ask for ``portable`` mode and
    the environment lacks one (a no-op in ``fast`` mode or when they are all set)."""
    if requested_mode(argv) != PORTABLE or not missing_pins():
        return
    if os.environ.get(_REEXEC):
        return  # check() then names what is missing
    env = pinned_environ()
    env[_REEXEC] = "1"
    _exec([sys.executable, "-m", "nasrank", *argv], env)


def _exec(args: list[str], env: dict[str, str]) -> NoReturn:
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(args[0], args, env)


def check(mode: str, source: str = "params.yaml") -> None:
    """Raise unless this process runs in ``mode``.

    Raises:
        NumericsError: ``portable`` asked for, and a pin is missing (a process that
            imported numpy or torch before setting them cannot be fixed in place).
    """
    missing = missing_pins()
    if mode == PORTABLE and missing:
        raise NumericsError(
            f"{source}: numerics 'portable' needs {', '.join(missing)} set before Python "
            f"starts (the `nasrank` command sets them itself; in-process use: "
            f"`python -m nasrank.numerics python ...`), or set numerics: fast")


@functools.cache
def versions() -> dict[str, str]:
    """Python's and each package of :data:`VERSIONED`'s version (``absent`` if none)."""
    out = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


@functools.cache
def machine() -> dict[str, Any]:
    """The CPU (model, vendor, ISA flags of :data:`ISA_FLAGS`) and the core count."""
    info: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key in ("model name", "vendor_id", "flags") and key not in info:
                info[key] = value.strip()
    except OSError:
        pass
    flags = set(info.get("flags", "").split())
    return {"cpu": info.get("model name") or platform.processor() or platform.machine(),
            "vendor": info.get("vendor_id", "unknown"),
            "isa": [f for f in ISA_FLAGS if f in flags],
            "cores": os.cpu_count()}


def provenance() -> dict[str, Any]:
    """What decides a result's bytes, as config.json, metrics and results record it.

    ``portable``: the mode, its pins and the library versions (the CPU does not change
    the bytes, so it is left out and the bytes stay the same on every machine);
    ``fast``: the mode, the CPU and its ISA flags, and the versions. The machine that ran
    a job is always in its measured-times file (:func:`machine`).
    """
    mode = active()
    out: dict[str, Any] = {"mode": mode}
    if mode == PORTABLE:
        out["pins"] = {k: v for k, (v, _) in PINS.items()}
    else:
        m = machine()
        out.update(cpu=m["cpu"], isa=m["isa"])
    out["versions"] = versions()
    return out


def main(argv: Sequence[str]) -> None:
    """``python -m nasrank.numerics [COMMAND ...]``: run COMMAND with the portable pins,
    or without one print them as shell ``export`` lines."""
    if argv:
        os.execvpe(argv[0], list(argv), pinned_environ())
    env = pinned_environ({})
    for key in PINS:
        print(f"export {key}={shlex.quote(env[key])}")


if __name__ == "__main__":
    main(sys.argv[1:])
