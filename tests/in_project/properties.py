"""Property-based checks of a generated project's run boundaries, run INSIDE the project:

    uv run --locked --with hypothesis==<pin> python <this file> <package>

(tests/test_runs_provenance.py does, on a set-up NumPy project). Hostile settings files
(TOML text and parsed values), command lines, manifests and sweep assignments: each input is
either accepted with values the run can use, or refused with one line and exit status 2.
Anything else (a traceback, a non-finite or out-of-range value let through) fails.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import importlib.util
import io
import json
import math
import operator
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

exits = importlib.import_module("research_kit.exits")
provenance = importlib.import_module("research_kit.provenance")
seeding = importlib.import_module("research_kit.seeding")
SCRATCH = Path(tempfile.mkdtemp(prefix="properties-"))  # under the caller's TMPDIR
atexit.register(shutil.rmtree, SCRATCH, ignore_errors=True)


def script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, Path("scripts") / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


CONFIG = script("train_example").TrainExampleConfig
SWEEP = script("sweep")
FIELDS = CONFIG.model_fields
CHECKS = settings(
    max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None
)

# ── Hostile values ──────────────────────────────────────────────────────────

EDGES = [0, -1, 1, 2**31, 2**32 - 1, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64, 10**20, -(2**64)]
integers = st.one_of(st.sampled_from(EDGES), st.integers(), st.integers(-(10**30), 10**30))
floats = st.one_of(
    st.sampled_from([math.inf, -math.inf, math.nan, 0.0, -0.0, 1e308, 5e-324, 1e-300]),
    st.floats(allow_nan=True, allow_infinity=True),
)
scalars = st.one_of(integers, floats, st.booleans(), st.text(max_size=30))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
names = st.one_of(st.sampled_from(sorted(FIELDS)), st.text(max_size=12))


def toml_value(value: Any) -> str:
    """`value` written as TOML (floats as TOML spells inf and nan)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


settings_documents = st.dictionaries(names, values, max_size=4).map(
    lambda table: "".join(f"{json.dumps(k)} = {toml_value(v)}\n" for k, v in table.items())
)
garbage = st.text(max_size=60)
cli_values = st.one_of(
    integers.map(str), floats.map(repr), st.sampled_from(["inf", "nan", "1e400", "", "[1,2", "{"]),
    st.text(max_size=12),
)  # fmt: skip
flags = st.one_of(
    st.sampled_from([f"--{n.replace('_', '-')}" for n in FIELDS]),
    st.sampled_from(["--no-seed", "--seed=", "--", "-x", "--config"]),
    st.text(max_size=10),
)
command_lines = st.lists(st.tuples(flags, cli_values), max_size=3).map(
    lambda pairs: [part for pair in pairs for part in pair]
)


# ── The property ────────────────────────────────────────────────────────────


BOUNDS = {"gt": operator.gt, "ge": operator.ge, "lt": operator.lt, "le": operator.le}


def usable(config: Any) -> None:
    """Values a run can use: finite, within each setting's declared bounds, seeds NumPy
    takes, and settings that strict JSON can hold (config.json, the manifest)."""
    for name, field in FIELDS.items():
        value = getattr(config, name)
        if isinstance(value, float):
            assert math.isfinite(value), (name, value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            assert -(2**63) <= value < 2**63, (name, value)
            for rule in field.metadata:
                for attribute, holds in BOUNDS.items():
                    bound = getattr(rule, attribute, None)
                    assert bound is None or holds(value, bound), (name, value, attribute, bound)
    seeding.seed_everything(config.seed)
    json.dumps(config.model_dump(mode="json"), allow_nan=False)


def accepted_or_refused(load: Any, argv: list[str] = ()) -> None:  # type: ignore[assignment]
    """`load()` gives usable settings or stops with one line and exit status 2 (or 0, after
    printing the help that a `-h` or `--help` in `argv` asked for)."""
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # the refusals' own lines
            config = load()
    except exits.Refused as refused:
        assert refused.code == exits.Exit.USAGE
        assert "\n" not in refused.problem and refused.problem.strip(), refused.problem
        return
    except SystemExit as stopped:  # argparse's own refusal of a command line: usage, exit 2
        asked_help = any(arg.startswith(("-h", "--h")) for arg in argv)
        assert stopped.code == 2 or (stopped.code == 0 and asked_help), stopped.code
        return
    usable(config)


@CHECKS
@given(settings_documents, command_lines)
def settings_file_and_command_line(document: str, argv: list[str]) -> None:
    path = SCRATCH / "settings.toml"
    path.write_text(document, encoding="utf-8")
    accepted_or_refused(lambda: CONFIG.load(path, argv=argv), argv)


@CHECKS
@given(garbage)
def settings_file_of_any_text(text: str) -> None:
    path = SCRATCH / "garbage.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    accepted_or_refused(lambda: CONFIG.load(path, argv=[]))


@CHECKS
@given(st.one_of(values, st.dictionaries(names, values, max_size=4)))
def config_json_of_any_value(value: Any) -> None:
    path = SCRATCH / "config.json"
    path.write_text(json.dumps(value), encoding="utf-8")  # Python's JSON: NaN and Infinity too
    accepted_or_refused(lambda: CONFIG.load(argv=["--config", str(path)]))


manifest_keys = st.one_of(
    st.sampled_from(["git", "lock", "packages", "drift", "machine", "command", "seed", "config",
                     "env_keys", "finished", "schema", "slurm"]),
    st.text(max_size=6),
)  # fmt: skip


@CHECKS
@given(st.dictionaries(manifest_keys, values, max_size=6), st.one_of(values, st.none()))
def manifests_and_results(record: dict[str, Any], results: Any) -> None:
    """Any manifest or results file is compared, or refused naming the file."""
    folder = SCRATCH / "run"
    folder.mkdir(exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps(record), encoding="utf-8")
    (folder / "results.json").write_text(json.dumps(results), encoding="utf-8")
    baseline = {"packages": {"numpy": "2.3.5"}, "config": {"seed": 0}, "git": None}
    try:
        manifest = provenance.read_manifest(folder)
        found = provenance.read_results(folder)
    except provenance.RecordError as error:
        assert str(folder) in str(error)
        return
    for a, b in ((manifest, baseline), (baseline, manifest), (manifest, manifest)):
        for what, before, after in provenance.differences(a, b):
            assert isinstance(what, str) and isinstance(before, str) and isinstance(after, str)
    assert provenance.result_differences(found, found) == []
    provenance.result_differences(found, {"loss": 1.0})


assignments = st.lists(
    st.one_of(
        st.builds(
            lambda name, listed: f"{name}={','.join(listed)}",
            st.sampled_from(["seed", "samples", "batch_size", "batch-size", "lr", "x y", ""]),
            st.lists(st.sampled_from(["0", "1", "2", "", "0.1"]), min_size=1, max_size=3),
        ),
        st.text(max_size=10),
    ),
    min_size=1,
    max_size=4,
)


@CHECKS
@given(assignments)
def sweep_grids(given_assignments: list[str]) -> None:
    """A sweep runs each combination of distinct values of distinct settings once, or is
    refused before anything runs."""
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            grid = SWEEP.parse_grid(given_assignments)
    except exits.Refused as refused:
        assert "\n" not in refused.problem
        return
    assert len(set(grid.names)) == len(grid.names)
    assert all(len(set(v)) == len(v) and "" not in v for v in grid.values)
    runs = grid.combinations()
    assert len(runs) == math.prod(len(v) for v in grid.values)
    assert len({tuple(run) for run in runs}) == len(runs)


if __name__ == "__main__":
    for check in (
        settings_file_and_command_line,
        settings_file_of_any_text,
        config_json_of_any_value,
        manifests_and_results,
        sweep_grids,
    ):
        print(f"==> {check.__name__}", flush=True)
        check()
    print("all properties hold")
