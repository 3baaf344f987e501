"""A real single-node SLURM cluster on this host, for the cluster tests.

Debian's ``slurm-wlm`` and ``munge`` (apt) provide the daemons; :class:`SingleNodeSlurm`
writes a slurm.conf for this one node (its cores and memory as ``slurmd -C`` reports
them, no accounting, every state and log file under a temporary directory), starts
``munged``, ``slurmctld`` and ``slurmd``, waits until the node is idle, and stops what it
started. Client commands (``sbatch``, ``squeue``, ``scancel``) find the cluster through
``SLURM_CONF``, which :meth:`SingleNodeSlurm.env` sets, and through Debian's default path
/etc/slurm/slurm.conf, which the ``srun`` inside every Snakemake job reads (the SLURM
executor strips ``SLURM_*`` variables from the job step's environment): it is linked to
the generated file while the cluster runs, and whatever was there before is put back.

Usage::

    reason = SingleNodeSlurm.unavailable()     # None, or why this host cannot run it
    with SingleNodeSlurm(tmp_dir) as cluster:
        subprocess.run(["sbatch", "--wrap", "true"], env=cluster.env(), check=True)

Run as a script it installs the packages only (``python tests/cluster/slurm.py install``),
which is what ``make test-cluster`` does before pytest.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

PACKAGES = ("slurm-wlm", "munge")
DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "scancel", "sinfo", "scontrol")
PARTITION = "nasrank"
MUNGE_SOCKET_DIR = Path("/run/munge")
MUNGE_KEY = Path("/etc/munge/munge.key")
DEFAULT_CONF = Path("/etc/slurm/slurm.conf")
START_TIMEOUT_S = 30


class ClusterError(RuntimeError):
    """The daemons did not come up (or down); the message carries their logs."""


def _which(name: str) -> str | None:
    return shutil.which(name) or next(
        (str(p) for d in ("/usr/sbin", "/sbin") if (p := Path(d) / name).is_file()), None)


def missing_programs() -> list[str]:
    """The daemons and client commands that are not installed."""
    return [n for n in (*DAEMONS, *CLIENTS, "munge") if _which(n) is None]


def install() -> str | None:
    """Install slurm-wlm and munge with apt where they are missing; None on success, else
    the reason they cannot be installed (not root, no apt-get, apt failed)."""
    if not missing_programs():
        return None
    if os.geteuid() != 0:
        return f"SLURM is not installed and installing {' '.join(PACKAGES)} needs root"
    if shutil.which("apt-get") is None:
        return f"SLURM is not installed and there is no apt-get to install {PACKAGES}"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    argv = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    if proc.returncode != 0:  # stale package lists on a fresh machine: refresh once
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
        proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        return f"`{' '.join(argv)}` failed: {(proc.stderr or proc.stdout)[-500:]}"
    still = missing_programs()
    return f"installed {PACKAGES} but {still} are still missing" if still else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def node_line() -> str:
    """This host as a slurm.conf ``NodeName=`` line (``slurmd -C``'s first line)."""
    out = subprocess.run([_which("slurmd") or "slurmd", "-C"], capture_output=True,
                         text=True, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("NodeName="))
    return f"{line} State=UNKNOWN"


class SingleNodeSlurm:
    """munged + slurmctld + slurmd for this host, state under ``root``; ``gpus`` > 0
    gives the node that many ``gpu`` generic resources with no device behind them, so
    GPU requests (``--gpus``, ``--gres=gpu``) are scheduled on a machine without one."""

    def __init__(self, root: Path, gpus: int = 0) -> None:
        self.root = Path(root)
        self.gpus = gpus
        self.conf = self.root / "slurm.conf"
        self.started: dict[str, Path] = {}  # daemon -> its pid file
        self.node = ""
        self.saved_conf: Path | None = None  # DEFAULT_CONF as it was, moved aside
        self.linked = False

    @staticmethod
    def unavailable() -> str | None:
        """Why SLURM cannot run here (None when it can): installs the packages if needed."""
        if sys.platform != "linux":
            return f"a SLURM cluster needs Linux, this is {sys.platform}"
        return install()

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """``base`` (default: this process's environment) with SLURM_CONF set."""
        return {**(os.environ if base is None else base), "SLURM_CONF": str(self.conf)}

    # --- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> SingleNodeSlurm:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def write_conf(self) -> Path:
        """slurm.conf: this node in one default partition, no accounting, no cgroups."""
        for sub in ("state", "spool", "log"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        node = node_line()
        self.node = node.split()[0].removeprefix("NodeName=")
        gres = []
        if self.gpus:
            node += f" Gres=gpu:{self.gpus}"
            gres = ["GresTypes=gpu"]
            (self.root / "gres.conf").write_text(
                f"NodeName={self.node} Name=gpu File=/dev/null Count={self.gpus}\n", "utf-8")
        r = self.root
        lines = [
            "ClusterName=nasrank-test",
            f"SlurmctldHost={self.node}",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"SlurmctldPort={_free_port()}",
            f"SlurmdPort={_free_port()}",
            f"StateSaveLocation={r / 'state'}",
            f"SlurmdSpoolDir={r / 'spool'}",
            f"SlurmctldPidFile={r / 'slurmctld.pid'}",
            f"SlurmdPidFile={r / 'slurmd.pid'}",
            f"SlurmctldLogFile={r / 'log' / 'slurmctld.log'}",
            f"SlurmdLogFile={r / 'log' / 'slurmd.log'}",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SchedulerType=sched/backfill",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core_Memory",
            "DefMemPerCPU=1000",  # a job without --mem must not take the whole node
            "ReturnToService=2",
            # squeue answers for finished jobs this long (the executor polls squeue)
            "MinJobAge=600",
            "KillWait=5",
            "AccountingStorageType=accounting_storage/none",
            "JobAcctGatherType=jobacct_gather/none",
            "JobCompType=jobcomp/none",
            "MpiDefault=none",
            *gres,
            node,
            f"PartitionName={PARTITION} Nodes={self.node} Default=YES MaxTime=INFINITE "
            "State=UP",
        ]
        self.conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return self.conf

    def start(self) -> None:
        """Write the configuration, start the three daemons, wait for an idle node."""
        self.write_conf()
        self._link_default_conf()
        self._start_munge()
        for daemon in ("slurmctld", "slurmd"):
            pid = self.root / f"{daemon}.pid"
            argv = [_which(daemon) or daemon, "-f", str(self.conf)]
            proc = subprocess.run(argv, env=self.env(), capture_output=True, text=True)
            if proc.returncode != 0:
                raise ClusterError(f"{daemon} did not start: {proc.stderr}{self.logs()}")
            self.started[daemon] = pid
        self._wait_idle()

    def _link_default_conf(self) -> None:
        DEFAULT_CONF.parent.mkdir(parents=True, exist_ok=True)
        if DEFAULT_CONF.exists() or DEFAULT_CONF.is_symlink():
            self.saved_conf = self.root / "slurm.conf.saved"
            os.replace(DEFAULT_CONF, self.saved_conf)
        DEFAULT_CONF.symlink_to(self.conf)
        self.linked = True

    def _restore_default_conf(self) -> None:
        if self.linked:
            DEFAULT_CONF.unlink(missing_ok=True)
            self.linked = False
        if self.saved_conf is not None:
            os.replace(self.saved_conf, DEFAULT_CONF)
            self.saved_conf = None

    def _start_munge(self) -> None:
        if subprocess.run(["munge", "-n"], capture_output=True).returncode == 0:
            return  # a munged is running already; leave it alone
        MUNGE_SOCKET_DIR.mkdir(parents=True, exist_ok=True)
        pid = self.root / "munged.pid"
        argv = [_which("munged") or "munged", "--force", f"--pid-file={pid}",
                f"--log-file={self.root / 'log' / 'munged.log'}"]
        if not MUNGE_KEY.is_file():
            raise ClusterError(f"{MUNGE_KEY} is missing (the munge package creates it)")
        proc = subprocess.run(argv, capture_output=True, text=True)
        if proc.returncode != 0:
            raise ClusterError(f"munged did not start: {proc.stderr}")
        self.started["munged"] = pid

    def _wait_idle(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        state = ""
        while time.monotonic() < deadline:
            proc = subprocess.run(["sinfo", "-h", "-n", self.node, "-o", "%T"],
                                  env=self.env(), capture_output=True, text=True)
            state = proc.stdout.strip()
            if proc.returncode == 0 and state == "idle":
                return
            time.sleep(0.5)
        raise ClusterError(f"node {self.node} is not idle after {START_TIMEOUT_S} s "
                           f"(sinfo: {state!r}){self.logs()}")

    def stop(self) -> None:
        """Cancel every job, then stop the daemons this object started (last first)."""
        if "slurmctld" in self.started:
            subprocess.run(["scancel", "--full", "-p", PARTITION], env=self.env(),
                           capture_output=True, timeout=30)
        for daemon in reversed(list(self.started)):
            _terminate(self.started[daemon])
        self.started.clear()
        self._restore_default_conf()

    def logs(self, tail: int = 40) -> str:
        """The last lines of every daemon log (for error messages)."""
        out = []
        for log in sorted((self.root / "log").glob("*.log")):
            lines = log.read_text(errors="replace").splitlines()[-tail:]
            out.append(f"\n--- {log.name} ---\n" + "\n".join(lines))
        return "".join(out)


def _terminate(pid_file: Path, timeout: float = 15) -> None:
    """SIGTERM the process named in ``pid_file``, SIGKILL it after ``timeout`` s."""
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


if __name__ == "__main__":
    if sys.argv[1:] != ["install"]:
        sys.exit(f"usage: {sys.argv[0]} install")
    why = install()
    print(why or f"{' '.join(PACKAGES)}: installed")
