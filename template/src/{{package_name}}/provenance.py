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

`differences(a, b)` lists what differs between two manifests, `result_differences` between
two runs' results.json; `scripts/compare_runs.py` prints both. `read_manifest` and
`read_results` read a run's folder or its bundle (scripts/bundle.py), and refuse a file
that is not what a run writes (`RecordError`), naming it.
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
import tarfile
import zlib
from datetime import datetime
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from .config import find_project_root
from .smoke.facts import Facts, gather

SCHEMA = 1
MANIFEST = "manifest.json"
RESULTS = "results.json"
# scripts/sweep.py sets this variable: each run started appends its folder to that file.
RUN_FOLDERS_FILE = "RUN_FOLDERS_FILE"
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
    path.write_text(_strict(manifest(config)), encoding="utf-8")
    return path


def _strict(record: dict[str, Any]) -> str:
    return json.dumps(record, indent=2, allow_nan=False) + "\n"


def mark_finished(folder: Path) -> None:
    record = read_manifest(folder)
    record["finished"] = _now()
    (folder / MANIFEST).write_text(_strict(record), encoding="utf-8")


class RecordError(ValueError):
    """A run's manifest.json or results.json that is not what a run writes: the message
    names the file and what is wrong with it."""


# What each entry of a manifest holds (JSON types); entries not listed may hold anything,
# and any entry may be missing (older manifests had fewer).
_ENTRIES: dict[str, tuple[type, ...]] = {
    "schema": (int,),
    "started": (str,),
    "finished": (str, type(None)),
    "command": (list,),
    "slurm": (dict, type(None)),
    "git": (dict, type(None)),
    "lock": (dict, type(None)),
    "packages": (dict,),
    "drift": (list,),
    "machine": (dict,),
    "seed": (int, type(None)),
    "config": (dict,),
    "env_keys": (list,),
}
_NESTED: dict[tuple[str, str], tuple[type, ...]] = {
    ("git", "commit"): (str, type(None)),
    ("git", "dirty"): (bool,),
    ("git", "changed"): (list,),
    ("lock", "file"): (str, type(None)),
    ("lock", "sha256"): (str, type(None)),
}
_JSON_NAMES = {
    dict: "an object", list: "a list", str: "text", int: "a whole number", float: "a number",
    bool: "true or false", type(None): "null",
}  # fmt: skip


def _kind(value: Any) -> str:
    return _JSON_NAMES.get(type(value), type(value).__name__)


def _read_json(file: Path, data: bytes | None = None) -> dict[str, Any]:
    """The JSON object in `file` (or `data`, read from it elsewhere)."""
    try:
        text = file.read_text(encoding="utf-8") if data is None else data.decode("utf-8")
        # NaN and Infinity (not JSON, though Python writes them) read as runs.py writes them.
        record = json.loads(text, parse_constant=str)
    except (OSError, ValueError, RecursionError) as error:  # unreadable, not UTF-8, not JSON
        why = f"{type(error).__name__}: {error}"
        raise RecordError(f"{file} cannot be read as JSON ({why})") from None
    if not isinstance(record, dict):
        raise RecordError(f"{file} holds {_kind(record)}, not a JSON object")
    return record


def check_manifest(record: dict[str, Any], file: Path) -> dict[str, Any]:
    """`record`, when each entry holds what a run writes there; else RecordError naming it."""
    entries: list[tuple[tuple[str, ...], Any, tuple[type, ...]]] = [
        ((key,), record[key], types) for key, types in _ENTRIES.items() if key in record
    ]
    for (key, inner), types in _NESTED.items():
        table = record.get(key)
        if isinstance(table, dict) and inner in table:
            entries.append(((key, inner), table[inner], types))
    if isinstance(names := record.get("env_keys"), list):
        entries += [(("env_keys", "[]"), name, (str,)) for name in names]
    for where, value, types in entries:
        if isinstance(value, types) and not (isinstance(value, bool) and bool not in types):
            continue
        expected = " or ".join(_JSON_NAMES[t] for t in types)
        name = ".".join(where).replace(".[]", "[]")
        raise RecordError(f"{file}: '{name}' holds {_kind(value)}, not {expected}")
    return record


def is_bundle(path: Path) -> bool:
    """Whether `path` is a bundle's archive (scripts/bundle.py: <folder>/run/ inside)."""
    return path.is_file() and path.name.endswith((".tar.gz", ".tgz", ".tar"))


def _bundled(archive: Path, name: str) -> bytes | None:
    """The run's file `name` inside a bundle (<folder>/run/<name>), or None; RecordError
    when the archive cannot be read."""
    try:
        with tarfile.open(archive, mode="r:" if archive.suffix == ".tar" else "r:gz") as tar:
            for member in tar:
                if member.isfile() and member.name.split("/")[1:] == ["run", name]:
                    extracted = tar.extractfile(member)
                    return extracted.read() if extracted is not None else None
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        why = " ".join(str(error).split()) or type(error).__name__
        raise RecordError(f"{archive} cannot be read as a bundle ({why})") from None
    return None


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of a run: its folder, the manifest file itself, or a bundle of it.

    FileNotFoundError when there is none; RecordError when it is not a run's manifest.
    """
    if is_bundle(path):
        data = _bundled(path, MANIFEST)
        if data is None:
            raise FileNotFoundError(f"no run/{MANIFEST} in {path}: is it a bundle of a run?")
        return check_manifest(_read_json(path / "run" / MANIFEST, data), path)
    file = path / MANIFEST if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(f"no {MANIFEST} in {path}: is it a run's folder?")
    return check_manifest(_read_json(file), file)


def read_results(path: Path) -> dict[str, Any] | None:
    """The results.json beside a run's manifest (`path`: its folder, manifest file or
    bundle), or None when the run wrote none (it stopped early, or is still running)."""
    if is_bundle(path):
        data = _bundled(path, RESULTS)
        return None if data is None else _read_json(path / "run" / RESULTS, data)
    file = (path if path.is_dir() else path.parent) / RESULTS
    return _read_json(file) if file.is_file() else None


# ── Comparing two runs ─────────────────────────────────────────────────────

ABSENT = "(absent)"


def _text(value: Any) -> str:
    if value is None:
        return ABSENT
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "(none)"
    return str(value)


def flatten(settings: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings as dotted names: {"model": {"hidden": 64}} -> {"model.hidden": 64}."""
    flat: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
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
    config_a, config_b = flatten(a.get("config") or {}), flatten(b.get("config") or {})
    for key in sorted(config_a.keys() | config_b.keys()):
        if key != "seed":
            compare(f"setting {key}", config_a.get(key), config_b.get(key))
    keys_a, keys_b = set(a.get("env_keys") or []), set(b.get("env_keys") or [])
    if keys_a != keys_b:
        only_a, only_b = _text(sorted(keys_a - keys_b)), _text(sorted(keys_b - keys_a))
        found.append((".env keys only in one run", only_a, only_b))
    return found


def result_differences(
    a: dict[str, Any] | None, b: dict[str, Any] | None
) -> list[tuple[str, str, str]]:
    """What differs between two runs' results (results.json), as (what, in a, in b); a run
    without results shows "(no results.json)"."""
    if a is None and b is None:
        return []
    if a is None or b is None:
        return [("results", "(no results.json)" if a is None else "present",
                 "(no results.json)" if b is None else "present")]  # fmt: skip
    flat_a, flat_b = flatten(a), flatten(b)
    return [
        (f"result {key}", _text(flat_a.get(key)), _text(flat_b.get(key)))
        for key in sorted(flat_a.keys() | flat_b.keys())
        if flat_a.get(key) != flat_b.get(key)
    ]
