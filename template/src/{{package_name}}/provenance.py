"""Provenance: what produced a result, recorded next to it, and what differs between two runs.

Every run writes manifest.json into its folder (runs.py calls `write_manifest`):

- `git`: the commit, whether the working tree had uncommitted changes, and which files;
- `lock`: the lock file and its sha256 (the whole environment, as locked);
- `packages`: every installed distribution and its version (what the lock put there), and
  `drift`: where they differ from the lock;
- `machine`: the host, Python, the torch build, the GPU driver and CUDA, the devices (the
  smoke test's facts, gathered quickly);
- `slurm`: the batch system's facts when the run is a SLURM job (job id, array job and
  task, job name, partition, account, nodes, tasks, CPUs, GPUs, restarts), else null;
- `command`, `seed`, `config`: how the run was started and with which settings;
- `env_keys`: the NAMES of the settings in .env, never their values.

`differences(a, b)` lists what differs between two manifests; `scripts/compare_runs.py`
prints it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from .config import find_project_root
from .smoke.facts import Facts, gather

SCHEMA = 1
MANIFEST = "manifest.json"
# What SLURM tells a job about itself, by the name the manifest gives each fact (they differ
# between any two jobs, so they are recorded but never compared). Only those set are kept.
SLURM_FACTS = {
    "job_id": "SLURM_JOB_ID",
    "array_job_id": "SLURM_ARRAY_JOB_ID",
    "array_task_id": "SLURM_ARRAY_TASK_ID",
    "job_name": "SLURM_JOB_NAME",
    "partition": "SLURM_JOB_PARTITION",
    "account": "SLURM_JOB_ACCOUNT",
    "nodes": "SLURM_JOB_NODELIST",
    "num_nodes": "SLURM_JOB_NUM_NODES",
    "ntasks": "SLURM_NTASKS",
    "cpus_per_task": "SLURM_CPUS_PER_TASK",
    "gpus_on_node": "SLURM_GPUS_ON_NODE",
    "restarts": "SLURM_RESTART_COUNT",  # a requeued job's count of starts before this one
}


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def _git(root: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=False
        )
    except OSError:  # no git here
        return None
    except subprocess.TimeoutExpired:  # it hangs
        return None
    return result.stdout if result.returncode == 0 else None


def git_state(root: Path) -> dict[str, Any] | None:
    """The commit and the uncommitted changes of the project's repository, or None."""
    status = _git(root, "status", "--porcelain")
    if status is None:
        return None  # not a git repository, or no git
    changed = [line[3:] for line in status.splitlines()]  # "XY path": the path
    commit = _git(root, "rev-parse", "HEAD")  # None before the first commit
    return {"commit": commit and commit.strip(), "dirty": bool(changed), "changed": changed}


def lock_state(root: Path) -> dict[str, str] | None:
    for name in ("uv.lock", "pixi.lock"):
        if (root / name).is_file():
            digest = hashlib.sha256((root / name).read_bytes()).hexdigest()
            return {"file": name, "sha256": digest}
    return None


def installed_packages() -> dict[str, str]:
    found = {}
    for dist in importlib.metadata.distributions():
        name = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
        found[name] = dist.version
    return dict(sorted(found.items()))


def machine(facts: Facts) -> dict[str, Any]:
    """The facts of the smoke test that can change a result."""
    return {
        "host": platform.node(),
        "platform": facts.platform,
        "python": facts.python,
        "torch": facts.torch_version,
        "torch_cuda": facts.torch_cuda,
        "torch_hip": facts.torch_hip,
        "cudnn": facts.cudnn,
        "driver": facts.driver,
        "driver_cuda": facts.driver_cuda,
        "devices": [
            f"{d.name} (compute capability {d.capability[0]}.{d.capability[1]}, {d.memory_gib} GiB)"
            for d in facts.devices
        ],
        "mps": facts.mps_available,
    }


def slurm_job() -> dict[str, str | int] | None:
    """The SLURM job this run is part of (numbers as numbers), or None outside SLURM."""
    if not os.environ.get("SLURM_JOB_ID"):
        return None
    found: dict[str, str | int] = {}
    for fact, variable in SLURM_FACTS.items():
        value = os.environ.get(variable)
        if value:
            found[fact] = int(value) if value.isdigit() else value
    return found


def env_key_names(root: Path) -> list[str]:
    env_file = root / ".env"
    return sorted(dotenv_values(env_file)) if env_file.is_file() else []


def manifest(config: dict[str, Any]) -> dict[str, Any]:
    """The provenance of a run about to start with the settings `config`."""
    root = find_project_root() or Path.cwd()
    facts = gather(quick=True)
    return {
        "schema": SCHEMA,
        "started": _now(),
        "finished": None,
        "command": [sys.executable, *sys.argv],
        "slurm": slurm_job(),
        "git": git_state(root),
        "lock": lock_state(root),
        "packages": installed_packages(),
        "drift": facts.drift,
        "machine": machine(facts),
        "seed": config.get("seed"),
        "config": config,
        "env_keys": env_key_names(root),
    }


def write_manifest(folder: Path, config: dict[str, Any]) -> Path:
    """Write manifest.json into `folder`; an earlier one (a continued run) is kept, numbered."""
    path = folder / MANIFEST
    if path.exists():
        number = 1
        while (folder / f"manifest.{number}.json").exists():
            number += 1
        path.rename(folder / f"manifest.{number}.json")
    path.write_text(json.dumps(manifest(config), indent=2) + "\n", encoding="utf-8")
    return path


def mark_finished(folder: Path) -> None:
    record = read_manifest(folder)
    record["finished"] = _now()
    (folder / MANIFEST).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of a run: its folder, or the manifest file itself."""
    file = path / MANIFEST if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(f"no {MANIFEST} in {path}: is it a run's folder?")
    record: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
    return record


# ── Comparing two runs ─────────────────────────────────────────────────────

ABSENT = "(absent)"


def _text(value: Any) -> str:
    if value is None:
        return ABSENT
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "(none)"
    return str(value)


def _flat(settings: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings as dotted names: {"model": {"hidden": 64}} -> {"model.hidden": 64}."""
    flat: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _git_text(git: dict[str, Any] | None) -> str:
    if not git:
        return "(no git repository)"
    commit = (git.get("commit") or "no commit")[:12]
    changed = git.get("changed") or []
    return f"{commit} + {len(changed)} uncommitted change(s)" if git.get("dirty") else commit


def _command(record: dict[str, Any]) -> str | None:
    """The command line without the interpreter's path."""
    return " ".join(map(str, (record.get("command") or [])[1:])) or None


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, str, str]]:
    """What differs between two manifests, as (what, in a, in b), in reading order:
    code, environment, machine, settings. Times and job ids always differ and are left out."""
    found: list[tuple[str, str, str]] = []

    def compare(what: str, before: Any, after: Any) -> None:
        if before != after:
            found.append((what, _text(before), _text(after)))

    if a.get("git") != b.get("git"):
        found.append(("git", _git_text(a.get("git")), _git_text(b.get("git"))))
    lock_a, lock_b = a.get("lock") or {}, b.get("lock") or {}
    compare(
        f"lock ({lock_b.get('file') or lock_a.get('file') or 'none'})",
        (lock_a.get("sha256") or "")[:12] or None,
        (lock_b.get("sha256") or "")[:12] or None,
    )
    packages_a, packages_b = a.get("packages") or {}, b.get("packages") or {}
    for name in sorted(packages_a.keys() | packages_b.keys()):
        compare(f"package {name}", packages_a.get(name), packages_b.get(name))
    compare("drift from the lock", a.get("drift"), b.get("drift"))
    machine_a, machine_b = a.get("machine") or {}, b.get("machine") or {}
    for key in sorted(machine_a.keys() | machine_b.keys()):
        compare(f"machine {key}", machine_a.get(key), machine_b.get(key))
    compare("command", _command(a), _command(b))
    compare("seed", a.get("seed"), b.get("seed"))
    config_a, config_b = _flat(a.get("config") or {}), _flat(b.get("config") or {})
    for key in sorted(config_a.keys() | config_b.keys()):
        if key != "seed":
            compare(f"setting {key}", config_a.get(key), config_b.get(key))
    keys_a, keys_b = set(a.get("env_keys") or []), set(b.get("env_keys") or [])
    if keys_a != keys_b:
        only_a, only_b = _text(sorted(keys_a - keys_b)), _text(sorted(keys_b - keys_a))
        found.append((".env keys only in one run", only_a, only_b))
    return found
