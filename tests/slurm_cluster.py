"""A real Slurm cluster on this machine, for tests: munged, slurmctld and one or two slurmd.

Debian's `slurm-wlm` and `munge` packages (Slurm 22.05) are enough: the daemons run as root
in the foreground, under a folder of their own (configuration, key, state, spool, logs),
on free ports, with munge on a socket of its own, so nothing of the machine's own set-up is
read or changed and two test sessions never share a cluster. `start()` returns when `sinfo`
shows every node idle; `stop()` ends the daemons it started and removes the folder.

Plain functions and a dataclass (no pytest), so a developer can start one by hand:

    uv run python tests/slurm_cluster.py --partition gpu   # prints SLURM_CONF=..., Ctrl-C stops
"""

from __future__ import annotations

import argparse
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "srun", "squeue", "sinfo", "scontrol", "scancel")
INSTALL_HINT = "apt-get install slurm-wlm munge; .ci/run does it on CI when it runs as root"
# A state of `scontrol show job` after which the job never runs again (without a requeue).
FINISHED = {
    "BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY",
    "PREEMPTED", "TIMEOUT",
}  # fmt: skip


class ClusterError(RuntimeError):
    """The cluster did not start, or a command of it failed: the message names the step."""


def missing() -> str:
    """Why a cluster cannot start here, or "" when it can."""
    absent = [name for name in (*DAEMONS, *CLIENTS) if _which(name) is None]
    if absent:
        return f"slurm-wlm or munge is not installed: no {', '.join(absent)} ({INSTALL_HINT})"
    if os.geteuid() != 0:
        return "the Slurm tests start slurmd, which runs jobs as their user: they need root"
    return ""


def _which(name: str) -> str | None:
    # The daemons live in /usr/sbin, which a user's PATH may leave out.
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def node_resources() -> str:
    """This machine as slurmd sees it (`slurmd -C`): CPUs, sockets, cores, threads, memory."""
    result = subprocess.run(
        [_which("slurmd") or "slurmd", "-C"], capture_output=True, text=True, check=False
    )
    first = result.stdout.splitlines()[0] if result.stdout else ""
    if result.returncode != 0 or not first.startswith("NodeName="):
        raise ClusterError(f"slurmd -C: {result.stderr.strip() or result.stdout.strip()}")
    return first.split(" ", 1)[1]  # everything after NodeName=<host>


@dataclass
class Cluster:
    """A running cluster: `env` holds SLURM_CONF, which every Slurm command needs."""

    root: Path
    partition: str
    nodes: list[str]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def conf(self) -> Path:
        return self.root / "slurm.conf"

    @property
    def env(self) -> dict[str, str]:
        return {"SLURM_CONF": str(self.conf)}

    def command(self, *args: str, timeout: float = 60) -> str:
        """Run a Slurm client command against this cluster; its output, or ClusterError."""
        result = subprocess.run(
            list(args),
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **self.env},
            check=False,
        )
        if result.returncode != 0:
            raise ClusterError(f"{' '.join(args)}: {(result.stderr or result.stdout).strip()}")
        return result.stdout

    def job(self, job_id: str) -> dict[str, str]:
        """`scontrol show job` as a dict (JobState, ExitCode, NodeList, Restarts, ...)."""
        text = self.command("scontrol", "show", "job", "--oneliner", job_id)
        return dict(re.findall(r"(\w+)=(\S*)", text.splitlines()[0]))

    def wait(self, job_id: str, timeout: float = 300) -> dict[str, str]:
        """Wait until the job (every task of an array) has finished; its last record."""
        deadline = time.monotonic() + timeout
        while True:
            records = [
                dict(re.findall(r"(\w+)=(\S*)", line))
                for line in self.command("scontrol", "show", "job", "--oneliner", job_id)
                .strip()
                .splitlines()
            ]
            if all(record["JobState"] in FINISHED for record in records):
                return records[0]
            if time.monotonic() > deadline:
                states = sorted({record["JobState"] for record in records})
                raise ClusterError(f"job {job_id} still {'/'.join(states)} after {timeout} s")
            time.sleep(0.5)

    def log(self, name: str) -> str:
        path = self.root / "log" / f"{name}.log"
        return path.read_text(errors="replace") if path.is_file() else ""


def _write_conf(cluster: Cluster, resources: str) -> None:
    root = cluster.root
    nodes = "\n".join(
        # Two slurmd on one machine each listen on their own port (MULTIPLE_SLURMD builds).
        f"NodeName={name} NodeHostname={name} NodeAddr=127.0.0.1 Port={free_port()} "
        f"{resources} State=UNKNOWN"
        for name in cluster.nodes
    )
    cluster.conf.write_text(
        f"""\
# A test cluster on one machine (tests/slurm_cluster.py).
ClusterName=pytest
SlurmctldHost=localhost
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={root}/munge/munge.socket,cred_expire=10
CredType=cred/munge
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool/%n
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd-%n.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd-%n.log
PlugStackConfig={root}/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
SwitchType=switch/none
ReturnToService=2
# Finished jobs stay in `scontrol show job` for 10 minutes: the tests read them after the end.
MinJobAge=600
KillWait=10
SlurmdTimeout=60
InactiveLimit=0
SchedulerType=sched/backfill
# Start a requeued job soon: it may start again cred_expire seconds after its end, and the
# schedulers look at pending jobs every sched_interval / bf_interval seconds.
SchedulerParameters=sched_interval=2,bf_interval=2
{nodes}
PartitionName={cluster.partition} Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""
    )
    (root / "plugstack.conf").write_text("")  # none of the machine's SPANK plugins


try:  # looked up here, not in a forked child
    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl
except (AttributeError, OSError, TypeError):  # not Linux: no cluster here anyway
    _PRCTL = None
_PR_SET_PDEATHSIG = 1


def _end_with_parent() -> None:
    """In a daemon about to start: SIGTERM when the test process dies, even killed outright,
    so that no daemon outlives its tests."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _spawn(cluster: Cluster, name: str, args: list[str]) -> None:
    # The daemon writes to its own copy of the file; this process's copy is closed at once.
    with (cluster.root / "log" / f"{name}.out").open("wb") as log:
        cluster.processes[name] = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, **cluster.env}, start_new_session=True,
            preexec_fn=_end_with_parent,
        )  # fmt: skip


def _wait_for(cluster: Cluster, what: str, ready: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        for name, process in cluster.processes.items():
            if process.poll() is not None:
                output = (cluster.root / "log" / f"{name}.out").read_text(errors="replace")
                raise ClusterError(
                    f"{name} stopped (exit status {process.returncode}) while waiting for "
                    f"{what}:\n{output[-2000:]}{cluster.log(name)[-2000:]}"
                )
        if time.monotonic() > deadline:
            raise ClusterError(f"no {what} after {timeout} s; logs in {cluster.root / 'log'}")
        time.sleep(0.2)


def node_names() -> list[str]:
    """Names for the nodes, each one this machine's: its hostname (when it resolves) and
    `localhost`. Jobs reach a node by its name (torchrun's rendezvous on the first node of
    a job), as on a cluster, so the names must resolve."""
    names = ["localhost"]
    host = socket.gethostname()
    try:
        socket.getaddrinfo(host, None)
    except OSError:
        return names
    return names if host == "localhost" else [host, *names]


def start(partition: str = "gpu", nodes: int = 1, root: Path | None = None) -> Cluster:
    """Start munged, slurmctld and `nodes` slurmd; return when every node is idle."""
    if problem := missing():
        raise ClusterError(problem)
    names = node_names()[:nodes]
    if len(names) < nodes:
        raise ClusterError(f"{nodes} nodes need {nodes} names of this machine; only {names}")
    root = root or Path(tempfile.mkdtemp(prefix="slurm-", dir="/tmp"))  # short socket paths
    cluster = Cluster(root, partition, names)
    for folder in ("munge", "state", "spool", "log"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    # munged wants its socket's folders open to all (clients connect as any user).
    for folder in (root, root / "munge"):
        folder.chmod(0o755)
    key = root / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    _write_conf(cluster, node_resources())
    try:
        _spawn(cluster, "munged", [
            _which("munged") or "munged", "--foreground", f"--key-file={key}",
            f"--socket={root}/munge/munge.socket", f"--pid-file={root}/munge/munged.pid",
            f"--seed-file={root}/munge/munged.seed", f"--log-file={root}/log/munged.log",
        ])  # fmt: skip
        _wait_for(cluster, "munge socket", (root / "munge" / "munge.socket").exists)
        _spawn(cluster, "slurmctld", [_which("slurmctld") or "slurmctld", "-D", "-c", "-i"])
        _wait_for(cluster, "answer from slurmctld", lambda: _answers(cluster))
        for node in cluster.nodes:
            _spawn(cluster, f"slurmd-{node}", [_which("slurmd") or "slurmd", "-D", "-N", node])
        _wait_for(cluster, "idle nodes in sinfo", lambda: _idle(cluster))
    except BaseException:
        stop(cluster, remove=False)
        raise
    return cluster


def _answers(cluster: Cluster) -> bool:
    try:
        cluster.command("scontrol", "ping", timeout=10)
    except (ClusterError, subprocess.TimeoutExpired):
        return False
    return True


def _idle(cluster: Cluster) -> bool:
    try:
        states = cluster.command("sinfo", "--noheader", "--Node", "--format=%N %t", timeout=10)
    except (ClusterError, subprocess.TimeoutExpired):
        return False
    found = dict(line.split() for line in states.splitlines() if line.strip())
    return all(found.get(node) == "idle" for node in cluster.nodes)


def _cancel_jobs(cluster: Cluster, timeout: float = 60) -> None:
    """Cancel the jobs still queued or running and wait until they are gone: slurmd leaves
    running jobs' processes behind when it stops."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            jobs = cluster.command("squeue", "--noheader", "--format=%A", timeout=10).split()
            if not jobs:
                return
            cluster.command("scancel", *jobs, timeout=10)
        except (ClusterError, subprocess.TimeoutExpired):
            return  # slurmctld is gone: nothing more to ask it
        time.sleep(1)


def stop(cluster: Cluster, remove: bool = True) -> None:
    """Cancel the cluster's jobs, then end the daemons it started, slurmd first."""
    if cluster.processes.get("slurmctld") and cluster.processes["slurmctld"].poll() is None:
        _cancel_jobs(cluster)
    for name in reversed(list(cluster.processes)):
        process = cluster.processes[name]
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    if remove:
        shutil.rmtree(cluster.root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partition", default="gpu")
    parser.add_argument("--nodes", type=int, default=1)
    args = parser.parse_args()
    cluster = start(args.partition, args.nodes)
    print(f"export SLURM_CONF={cluster.conf}", flush=True)

    def leave(number: int, frame: object) -> None:
        raise SystemExit(0)

    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, leave)
    try:
        signal.pause()
    finally:
        stop(cluster)


if __name__ == "__main__":
    main()
