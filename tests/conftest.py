"""Fixtures: real renders through copier's API, replicas of PyTorch's indexes, a clean env."""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import copier
import pytest
import replica
from plumbum import local

# Shared with the benchmark (benchmarks/run.py), which sets up the same things outside pytest;
# release and template_clone are imported from here by the tests.
from benchmarks.fixtures import MISSING_TORCH_WHEEL, find_torch_wheel
from benchmarks.fixtures import release as release
from benchmarks.fixtures import tagged_template as make_tagged_template
from benchmarks.fixtures import template_clone as template_clone
from extensions import detect, pytorch_facts
from extensions.loader import module_name
from extensions.pixi import PIXI_PLATFORMS
from tasks.common import UV_RUN_ENVIRONMENT

TEMPLATE = Path(__file__).resolve().parent.parent

# Every platform a project can target (pytorch_facts.PLATFORMS), as the `platforms` answer.
ALL_PLATFORMS = [platform.name for platform in pytorch_facts.PLATFORMS]
# The platform the suite's machine is taken for (COPIER_RESEARCH_PLATFORM), whatever it is, so
# that the `platforms` default is the same on every machine.
SUITE_PLATFORM = "linux-x86_64"

# Answers a test does not care about; each test overrides what it checks. Every platform:
# the lock then covers all four, as it did before the `platforms` question, and the tests of
# routing and of the set-up's per-platform check keep their meaning.
BASE_ANSWERS: dict[str, Any] = {
    "project_name": "Protein Folding",
    "author_name": "Ada Lovelace",
    "author_email": "ada@example.org",
    "python_version": "3.11",
    "platforms": ALL_PLATFORMS,
}
# Given as an answer, leaves the question to its default (e.g. `platforms=DEFAULT`).
DEFAULT: Any = object()


def with_base(answers: dict[str, Any]) -> dict[str, Any]:
    """BASE_ANSWERS, then `answers`. A pixi project targets what pixi can (Linux x86_64 and
    macOS arm64, as pixi projects always did) unless the answers say otherwise."""
    data = {**BASE_ANSWERS, **answers}
    if data.get("env_manager") == "pixi" and "platforms" not in answers:
        data["platforms"] = list(PIXI_PLATFORMS)
    return {name: value for name, value in data.items() if value is not DEFAULT}


def set_environment(**variables: str | None) -> None:
    """Set (or, with None, remove) variables for this process and for copier's tasks.

    Copier starts tasks with plumbum's copy of the environment, taken when plumbum was
    imported, so os.environ alone would not reach them.
    """
    for name, value in variables.items():
        for environment in (os.environ, local.env):
            if value is None:
                environment.pop(name, None)
            else:
                environment[name] = value


# The suite's own git identity, in a git configuration of its own: the machine's (or a CI
# runner's) global configuration may have no identity at all, and must not leak into tests.
TEST_GIT_CONFIG = "[user]\n\tname = Copier Research Tests\n\temail = tests@example.org\n"


# The user's HOME, read before the suite gives its processes a HOME of their own: pip's
# configuration there may name the folder that holds the torch wheel.
USER_HOME = Path.home()


def session_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test session's temporary folder, shared by its pytest-xdist workers (each has its
    own `popen-gw<n>` folder inside it): caches and downloads made once for the session."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session", autouse=True)
def clean_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep the test runner's venv out of uv's way and make failures fast and offline-safe.

    Nothing the suite runs writes into the user's HOME: every process gets a HOME of its own
    (so ~/.cache, ~/.config, pre-commit's, wandb's and uv's tool folders are temporary), and
    uv one cache for the session (tests that need a cold one use `fresh_uv_cache`).
    """
    saved = dict(os.environ)
    git_config = tmp_path_factory.mktemp("git") / "config"
    git_config.write_text(TEST_GIT_CONFIG)
    # Where the user's interpreters are is read before HOME changes (they are only read:
    # UV_PYTHON_DOWNLOADS=never below), as are pyenv's root and versions.
    set_environment(UV_PYTHON_INSTALL_DIR=output_of("uv", "python", "dir") or None)
    if shutil.which("pyenv"):
        # Let uv see every pyenv interpreter, not only the global one, through the shims.
        versions = output_of("pyenv", "version-name").split()[:1]
        versions += output_of("pyenv", "versions", "--bare").split()
        set_environment(
            PYENV_ROOT=output_of("pyenv", "root") or None,
            PYENV_VERSION=":".join(dict.fromkeys(versions)),
        )
    home = tmp_path_factory.mktemp("home")
    set_environment(
        GIT_CONFIG_GLOBAL=str(git_config),
        GIT_CONFIG_NOSYSTEM="1",
        **dict.fromkeys(UV_RUN_ENVIRONMENT, None),
        PYTHONPATH=None,
        HOME=str(home),
        **dict.fromkeys(SUITE_UNSET, None),
        UV_CACHE_DIR=str(session_root(tmp_path_factory) / "uv-cache"),
        # The template's compiled Jinja code (extensions/compile_cache.py), one for the session.
        COPIER_RESEARCH_CACHE_DIR=str(session_root(tmp_path_factory) / "compile-cache"),
        # One mypy cache per worker (mypy_cache): torch's types are checked once, not in
        # each generated project. mypy keys its cache by the files' contents, and a project
        # that differs is checked again: the verdicts are the same.
        MYPY_CACHE_DIR=str(tmp_path_factory.getbasetemp() / "mypy-cache"),
        UV_PYTHON_DOWNLOADS="never",  # only interpreters already on this machine
        UV_HTTP_RETRIES="0",
        # Tests choose the accelerator; a GPU on the test machine must not change defaults.
        COPIER_RESEARCH_NO_GPU_DETECTION="1",
        COPIER_RESEARCH_PLATFORM=SUITE_PLATFORM,
    )
    yield
    set_environment(**{name: None for name in os.environ})
    set_environment(**saved)


def output_of(*command: str) -> str:
    """What a command prints, stripped; empty when it fails."""
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    return result.stdout.strip() if result.returncode == 0 else ""


# Variables that would point the suite's processes back at the user's folders (as .ci/run
# unsets them): with HOME replaced, each then defaults to a folder in the suite's HOME.
SUITE_UNSET = (
    "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME",
    "UV_TOOL_DIR", "UV_TOOL_BIN_DIR", "PRE_COMMIT_HOME",
)  # fmt: skip


@pytest.fixture(scope="session")
def torch_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wheel = find_torch_wheel(session_root(tmp_path_factory) / "downloads", home=USER_HOME)
    if wheel is None:
        pytest.skip(MISSING_TORCH_WHEEL)
    return wheel


@pytest.fixture(scope="session")
def real_torch_line(torch_wheel: Path) -> str:
    """The release line of the real CPU wheel (`2.13`): projects that install torch ask for it."""
    version = torch_wheel.name.split("-")[1]
    return ".".join(version.split(".")[:2])


@pytest.fixture(scope="session")
def local_torch_index(stand_in_index: Path) -> Path:
    """A local folder index, laid out <folder>/<build>/*.whl: the replica's flat folders, whose
    cpu folder holds the real CPU wheel beside the other platforms' stand-ins (a lock for
    every platform needs them all)."""
    return stand_in_index


@pytest.fixture(scope="session")
def pytorch_replica(tmp_path_factory: pytest.TempPathFactory, torch_wheel: Path) -> replica.Replica:
    """PyTorch's indexes as flat folders, `<root>/<index>/*.whl` (tests/replica.py).

    Every index, release and platform of extensions/pytorch_indexes.toml; all wheels are
    STAND-INS except the real CPU wheel in its own slot.
    """
    return replica.build_flat(tmp_path_factory.mktemp("pytorch-replica"), torch_wheel)


@pytest.fixture(scope="session")
def stand_in_index(pytorch_replica: replica.Replica) -> Path:
    """The replica's flat folders: a local `torch_index_url` (`<folder>/<build>/*.whl`)."""
    return pytorch_replica.root


@pytest.fixture(scope="session")
def stand_in_server(pytorch_replica: replica.Replica) -> Iterator[str]:
    """The replica as a PEP 503 index served on loopback: yields its base URL (`.../whl`)."""
    with replica.serve(pytorch_replica) as url:
        yield url


@pytest.fixture(scope="module")
def fresh_uv_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An empty uv cache for one test module, for uv here and in copier's tasks.

    What uv has cached changes what it locks (an offline re-lock was seen folding
    platforms on a cold cache only), so tests of routing, pinning and updates start cold.
    """
    cache = tmp_path_factory.mktemp("uv-cache")
    saved = os.environ.get("UV_CACHE_DIR")
    set_environment(UV_CACHE_DIR=str(cache))
    yield cache
    set_environment(UV_CACHE_DIR=saved)


# The longest modules, longest first: the sum of each module's --durations in a full run
# (2026-12-07; 1,726 s of work in all, 863 s per worker). This order holds in a run
# without xdist. With `--dist loadfile`, xdist sorts the modules by their number of tests
# (its default `--loadscope-reorder`); keeping this order instead (`--no-loadscope-reorder`)
# took 943 s from a fresh clone against 910-923 s, within the noise, so xdist's order stays.
LONGEST_MODULES = (
    "test_update.py",
    "test_bundle.py",
    "test_research_variants.py",
    "test_slurm_cluster.py",
    "test_answers_property.py",
    "test_matrix_torch.py",
    "test_torchrun.py",
    "test_routing.py",
    "test_torch_matrix_locks_a.py",
    "test_generated_project.py",
    "test_torch_matrix_locks_b.py",
    "test_matrix_installs.py",
    "test_update_interrupt.py",
    "test_setup_failures.py",
    "test_package_corpus.py",
    "test_update_answers.py",
    "test_matrix.py",
    "test_fleet.py",
)


def gpu_on_this_machine() -> str | None:
    """What shows that this machine has a GPU (a driver, a device, a vendor's tool); None
    when nothing does. Tests marked `no_gpu` expect what a machine without one gets."""
    for path in (detect.PROC_DRIVER_VERSION, Path("/dev/kfd"), Path("/dev/nvidiactl")):
        if path.exists():
            return str(path)
    tools = ("nvidia-smi", "rocm-smi", "rocminfo", "rocm_agent_enumerator")
    found = (shutil.which(tool) or shutil.which(tool, path=str(detect.ROCM_BIN)) for tool in tools)
    return next((path for path in found if path), None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return LONGEST_MODULES.index(name) if name in LONGEST_MODULES else len(LONGEST_MODULES)

    items.sort(key=rank)  # stable: the order within a module and among the rest is kept
    gpu = (
        gpu_on_this_machine() if any(item.get_closest_marker("no_gpu") for item in items) else None
    )
    if gpu:
        reason = f"expects a machine without a GPU, and this one has one ({gpu})"
        for item in items:
            if item.get_closest_marker("no_gpu"):
                item.add_marker(pytest.mark.skip(reason=reason))


Render = Callable[..., Path]


def render(destination: Path, *, skip_tasks: bool = False, **answers: Any) -> Path:
    """Generate a project from this working tree (uncommitted changes included).

    An answer given as DEFAULT is left to the question's default.
    """
    data = with_base(answers)
    copier.run_copy(
        str(TEMPLATE),
        str(destination),
        data=data,
        defaults=True,
        unsafe=True,
        vcs_ref="HEAD",
        quiet=True,
        skip_tasks=skip_tasks,
    )
    return destination


@pytest.fixture
def rendered(tmp_path: Path) -> Render:
    """Render without tasks: fast, for checks of the files alone."""

    def _render(**answers: Any) -> Path:
        return render(tmp_path / "project", skip_tasks=True, **answers)

    return _render


_imports = itertools.count()


def import_file(path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """A fresh copy of the Python file at `path` (a generated project's script or module,
    not a package), for one test: in sys.modules while the test runs, as an imported module
    is (its dataclasses look their module up there), under a name of its own, so that tests
    that change a copy's globals never share it. The one place the tests register a module."""
    name = f"{module_name(path)}_test_{next(_imports)}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


def import_kit(project: Path, module: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """A module of a project's set-up (`research_kit.setup.verify`), imported from the
    project's own kit/src, working on that project (its PROJECT is the kit's project).

    `research_kit` is one name for every project: the test's copy comes first on sys.path,
    and the copies of `research_kit` imported before it are put aside until the test ends
    (the monkeypatch restores them), so that each test gets the project it asked for."""
    source = project / "kit" / "src"
    names = {name for name in sys.modules if name.split(".")[0] == "research_kit"}
    for path in (source / "research_kit").rglob("*.py"):
        names.add(
            ".".join(path.relative_to(source).with_suffix("").parts).removesuffix(".__init__")
        )
    for name in names:  # each back as it was when the test ends: the copy put aside, or none
        monkeypatch.setitem(sys.modules, name, None)
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(source))
    return importlib.import_module(module)


def run(command: list[str], cwd: Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False, **kwargs)


def copier_cli(*args: str, cwd: Path) -> tuple[int, str]:
    """Copier's own command line, as a researcher runs it: (exit status, its output)."""
    result = run([sys.executable, "-m", "copier", *args], cwd)
    return result.returncode, result.stdout + result.stderr


def from_old_release(root: Path, before: str) -> Path:
    """A template clone with two releases: v0.1.0, the template at commit `before`; v0.2.0,
    this working tree on top of v0.1.0's history (an update across a layout change)."""
    old = template_clone(root / "old", commit=before)
    release(old, "v0.1.0")
    new = template_clone(root / "template")
    shutil.rmtree(new / ".git")
    shutil.move(old / ".git", new / ".git")
    release(new, "v0.2.0")
    return new


def copy_numpy_project(releases: Path, root: Path, ref: str = "v0.1.0") -> Path:
    """A NumPy project (`Plain Numbers`, by Ada) copied and set up from the release `ref` of
    the template clone `releases`, through Copier's command line."""
    answers = ["project_name=Plain Numbers", "author_name=Ada", "framework=none"]
    code, output = copier_cli(
        "copy", "--trust", "--defaults", "-r", ref,
        *(f"--data={answer}" for answer in answers), str(releases), str(root / "project"),
        cwd=root,
    )  # fmt: skip
    assert code == 0 and "Environment ready" in output, output
    return root / "project"


# What a generated script must not import to answer --help: each takes seconds to import.
HEAVY_PACKAGES = frozenset({"torch", "numpy", "mlflow", "wandb", "tensorboardX"})


def imported_by_help(project: Path, script: str) -> set[str]:
    """The top-level packages `uv run [--locked] scripts/<script> --help` imports, as Python's
    own import log says (PYTHONPROFILEIMPORTTIME, which also reaches a script's own
    environment); the --help must succeed."""
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    # A script with its own dependencies (setup_env.py's `# /// script`) has no lock to hold to.
    inline = "# /// script" in (project / "scripts" / script).read_text().splitlines()
    locked = [] if inline else ["--locked"]
    result = run(["uv", "run", *locked, f"scripts/{script}", "--help"], project, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage:" in result.stdout, result.stdout
    names = re.findall(r"^import time:[^|]*\|[^|]*\|\s*(\S+)\s*$", result.stderr, re.M)
    assert names, "no import log: PYTHONPROFILEIMPORTTIME did not reach the script"
    return {name.split(".")[0] for name in names}


def default_ctrl_c() -> None:
    """For a child process: Ctrl-C acts as in a terminal, even where the tests run with SIGINT
    ignored (a background job, `nohup ... &`), which the child would otherwise inherit."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def git(*args: str, cwd: Path) -> str:
    """Run git in `cwd` and return its output; a failure fails the test with git's message."""
    result = run(["git", *args], cwd)
    assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
    return result.stdout


@pytest.fixture
def tagged_template(tmp_path: Path) -> Path:
    """A clone of this template with releases v0.1.0, v0.2.0 (a README line), v0.3.0 (tqdm)."""
    return make_tagged_template(tmp_path / "template")


@pytest.fixture(scope="module")
def torch_project(
    tmp_path_factory: pytest.TempPathFactory, stand_in_server: str, real_torch_line: str
) -> Path:
    """The default PyTorch CPU project, generated with its tasks: locked, pinned and synced.

    With the SLURM/torchrun files, so their code is linted and tested with the rest. Its
    PyTorch index is the replica served as a mirror URL (not a local folder, which CI cannot
    see and the template therefore gives no CI), so that its CI steps are run too.
    """
    destination = tmp_path_factory.mktemp("generated") / "protein-folding"
    return render(
        destination,
        torch_index_url=stand_in_server,
        torch_version=real_torch_line,
        extra_dependencies="einops",
        include_slurm=True,
    )


@pytest.fixture(scope="module")
def numpy_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A framework-free project on another Python, generated with its tasks."""
    destination = tmp_path_factory.mktemp("generated") / "plain-numbers"
    return render(
        destination, project_name="Plain Numbers", framework="none", python_version="3.12"
    )


# ── The matrices, split over several modules so that the test workers share them ─────────


@pytest.fixture(scope="session")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The worker's mypy cache (MYPY_CACHE_DIR, set for every process of the suite): torch's
    stubs, linked from uv's cache, checked once."""
    return tmp_path_factory.getbasetemp() / "mypy-cache"


@pytest.fixture
def check_matrix_row(
    tmp_path: Path,
    mypy_cache: Path,
    request: pytest.FixtureRequest,
    capfd: pytest.CaptureFixture[str],
) -> Callable[[dict[str, Any]], None]:
    """Checks a row of the pairwise matrix (tests/matrix.py) as deep as its depth allows."""
    from matrix import check_row

    def _check(row: dict[str, Any]) -> None:
        uses_index = row["framework"] == "pytorch" and row["env_manager"] == "uv"
        index = request.getfixturevalue("stand_in_server") if uses_index else ""
        check_row(row, tmp_path / "protein-folding", index, mypy_cache, capfd)

    return _check


@pytest.fixture
def lock_and_check_case(
    tmp_path: Path, stand_in_index: Path, fresh_uv_cache: Path
) -> Callable[[Any], None]:
    """Locks a case of issue #11's matrix (tests/torch_matrix.py) on the replica and a fresh uv
    cache, and checks what every platform and every extra would install."""
    from torch_matrix import check_case, render_and_lock

    def _check(case: Any) -> None:
        project = render_and_lock(case, tmp_path / "project", torch_index_url=str(stand_in_index))
        check_case(case, project)

    return _check
