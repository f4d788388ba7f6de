"""Issue #19: the packages researchers add next, added as they would add them.

Each package of the corpus (real PyPI packages of the field, their real metadata) is added
with `uv add` to a project that targets four platforms and to a Linux-only one (torch from
the replica of PyTorch's indexes, a fresh uv cache), one at a time, so that a failure is
the package's own. Each ends locked, its pin equal to the lock and the set-up's check of
every platform green (`scripts/setup_env.py --from pin --until verify`: dry runs, nothing is
installed); or refused, and then the set-up's message names the fix, and the fix it names
(the `sys_platform` marker) locks it.

The outcomes are recorded in tests/data/package-corpus.toml, from which docs/packages.md
shows the table (tools/docgen.py); this module fails when they differ from the record.
Rewrite the record with COPIER_RESEARCH_WRITE_CORPUS=1.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest
from conftest import git, render, run

from extensions import pytorch_facts, torch_releases

RECORD = Path(__file__).parent / "data" / "package-corpus.toml"
CORPUS = (
    "transformers",
    "datasets",
    "accelerate",
    "lightning",
    "timm",
    "einops",
    "scikit-learn",
    "polars",
    "triton",
    "cupy-cuda12x",
    "bitsandbytes",
)
# The project kinds, by the platforms their lock targets.
KINDS: dict[str, tuple[str, ...]] = {
    "All four platforms": tuple(platform.name for platform in pytorch_facts.PLATFORMS),
    "Linux x86_64 only": ("linux-x86_64",),
}
LINUX_ONLY = "{package}; sys_platform == 'linux'"  # the README's way for Linux-only wheels
SPLIT = re.compile(
    r"split \(markers: [^)]*?platform_machine == '(\w+)' and sys_platform == '(\w+)'"
)


@dataclass(frozen=True)
class Outcome:
    project: str
    package: str
    outcome: str  # "locked" or "refused"
    reason: str = ""  # why `uv add` refused it
    fix: str = ""  # the requirement that locked it after the set-up named the fix


@pytest.fixture(scope="module")
def projects(
    tmp_path_factory: pytest.TempPathFactory,
    stand_in_server: str,
    real_torch_line: str,
    fresh_uv_cache: Path,
) -> dict[str, Path]:
    """One set-up project per kind: locked, pinned and checked on its platforms."""
    made = {}
    for kind, platforms in KINDS.items():
        project = render(
            tmp_path_factory.mktemp("corpus") / "protein-folding",
            skip_tasks=True,
            torch_index_url=stand_in_server,
            torch_version=real_torch_line,
            platforms=list(platforms),
        )
        done = run(["uv", "run", "scripts/setup_env.py", "--until", "verify"], project)
        assert done.returncode == 0, done.stdout + done.stderr
        git("init", "-q", cwd=project)
        made[kind] = project
    return made


def platform_label(machine: str, system: str) -> str:
    """`Windows x86_64` for the platform a split's marker names."""
    named = (
        p.name for p in pytorch_facts.PLATFORMS if (p.machine, p.sys_platform) == (machine, system)
    )
    return torch_releases.PLATFORM_LABELS[next(named)]


def refusal(stderr: str) -> str:
    """uv's reason, in words: the platform whose resolution failed."""
    split = SPLIT.search(" ".join(stderr.split()))  # uv wraps long lines where it likes
    if split is None:
        return next((line.strip() for line in stderr.splitlines() if "cause:" in line), stderr)
    return f"no wheels for {platform_label(split[1], split[2])}"


def set_up_checks(project: Path) -> tuple[int, str]:
    done = run(["uv", "run", "scripts/setup_env.py", "--from", "pin", "--until", "verify"], project)
    return done.returncode, done.stdout + done.stderr


def pinned_equals_lock(project: Path, package: str) -> None:
    pyproject = (project / "pyproject.toml").read_text()
    pin = re.search(rf'"{re.escape(package)}==([^ ;"]+)', pyproject)
    assert pin is not None, f"{package} is not pinned:\n{pyproject}"
    assert f'name = "{package}"\nversion = "{pin[1]}"' in (project / "uv.lock").read_text()


def restore(project: Path, saved: dict[str, bytes]) -> None:
    for name, content in saved.items():
        (project / name).write_bytes(content)


def add(project: Path, kind: str, package: str) -> Outcome:
    """Add `package` as a researcher would; on refusal, follow the set-up's message. A
    failed check leaves the project as it was, for the next package."""
    saved = {name: (project / name).read_bytes() for name in ("pyproject.toml", "uv.lock")}
    try:
        return adding(project, kind, package, saved)
    except BaseException:
        restore(project, saved)
        raise


def adding(project: Path, kind: str, package: str, saved: dict[str, bytes]) -> Outcome:
    added = run(["uv", "add", "--no-sync", package], project)
    if added.returncode == 0:
        pinned_equals_lock(project, package)
        code, output = set_up_checks(project)
        assert code == 0, output
        return Outcome(kind, package, "locked")
    reason = refusal(added.stderr)
    restore(project, saved)
    # The set-up meets the same requirement (written without locking) and names the fix.
    assert run(["uv", "add", "--frozen", package], project).returncode == 0
    command = ["uv", "run", "scripts/setup_env.py", "--from", "lock", "--until", "verify"]
    failed = run(command, project)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    message = " ".join(failed.stderr[failed.stderr.index("!!  Set-up failed") :].split())
    assert package in message and reason.removeprefix("no wheels for ") in message, message
    assert LINUX_ONLY.format(package=package) in message, message
    restore(project, saved)
    fix = LINUX_ONLY.format(package=package)
    fixed = run(["uv", "add", "--no-sync", fix], project)
    assert fixed.returncode == 0, fixed.stderr
    pinned_equals_lock(project, package)
    code, output = set_up_checks(project)
    assert code == 0, output
    return Outcome(kind, package, "refused", reason, fix)


OUTCOMES: dict[tuple[str, str], Outcome] = {}


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("package", CORPUS)
def test_a_package_of_the_field_locks_or_the_set_up_names_the_fix(
    projects: dict[str, Path], kind: str, package: str
) -> None:
    OUTCOMES[kind, package] = add(projects[kind], kind, package)


def recorded() -> list[Outcome]:
    data = tomllib.loads(RECORD.read_text()) if RECORD.is_file() else {"result": []}
    return [Outcome(**entry) for entry in data["result"]]


def record_text(outcomes: list[Outcome]) -> str:
    lines = [
        "# Written by tests/test_package_corpus.py (COPIER_RESEARCH_WRITE_CORPUS=1): what `uv add`",
        "# did with each package of the corpus, per project kind. docs/packages.md shows it",
        "# (tools/docgen.py, fact `package-corpus`).",
    ]
    for outcome in outcomes:
        lines.append("\n[[result]]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in asdict(outcome).items() if value]
    return "\n".join(lines) + "\n"


def test_the_corpus_table_is_the_record() -> None:
    """Runs after the corpus (same module, same worker): docs/packages.md tells the truth."""
    expected = [OUTCOMES.get((kind, package)) for kind in KINDS for package in CORPUS]
    if None in expected:
        pytest.skip("the corpus did not run in full (selected by -k?)")
    outcomes = [outcome for outcome in expected if outcome is not None]
    if os.environ.get("COPIER_RESEARCH_WRITE_CORPUS"):
        RECORD.write_text(record_text(outcomes))
    assert recorded() == outcomes
