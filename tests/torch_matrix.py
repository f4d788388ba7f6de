"""Issue #11's matrix: every build x {routed, cpu_extra} x {torch, +torchvision, +torchaudio}
x every offered Python, against the replica of PyTorch's indexes (tests/replica.py).

Each case is either refused when asked, with the reason, or set up through the generated
project's own `scripts/setup_env.py` (lock, pin, and its check that the lock installs on every
platform) and then read back per platform and per extra with `uv sync --locked --dry-run
--python-platform ...`: what each of the four platforms would install is compared with what
the facts file says it must be. The expectation is computed here, independently of
extensions/torch_releases.py, from the facts alone:

- routing: a GPU build serves its platforms (CUDA: Linux x86_64/aarch64 and Windows; ROCm:
  Linux x86_64), the CPU index the rest; the cpu extra takes the CPU index everywhere;
- the release line: the newest one whose torch, and the companions made for it, every
  (index, platform) the project uses publishes for its Python;
- the version: one for every platform, the newest of that line all of them have.

Only the real CPU wheel may be installed, so the matrix stops before installing: what each
platform would install is what the test reads. (tests/test_routing.py and the set-up tests
install the real wheel.)
"""

from __future__ import annotations

import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from conftest import BASE_ANSWERS, TEMPLATE, run
from packaging.version import Version

from extensions import compat, cuda, pytorch_facts

FACTS = pytorch_facts.load()
PLATFORMS = pytorch_facts.PLATFORMS
PACKAGE_SETS: tuple[tuple[str, ...], ...] = ((), ("torchvision",), ("torchaudio",))
CUDA_PLATFORMS = ("linux-x86_64", "linux-aarch64", "windows-x86_64")
ROCM_PLATFORMS = ("linux-x86_64",)


@dataclass(frozen=True)
class Case:
    accelerator: str
    cpu_extra: bool
    packages: tuple[str, ...]
    python: str

    @property
    def id(self) -> str:
        how = "extras" if self.cpu_extra else "routed"
        return f"{self.accelerator}-{how}-{'+'.join(('torch', *self.packages))}-py{self.python}"

    @property
    def answers(self) -> dict[str, object]:
        return {
            **BASE_ANSWERS,
            "accelerator": self.accelerator,
            "cpu_extra": self.cpu_extra,
            "torch_packages": list(self.packages),
            "python_version": self.python,
        }

    def variants(self) -> dict[str | None, dict[str, str]]:
        """Extra (None: the routed environment) -> platform -> index, as the spec says."""
        serves = {"rocm7.2": ROCM_PLATFORMS}.get(self.accelerator, CUDA_PLATFORMS)
        if self.accelerator == "cpu":
            serves = ()
        routed = {p.name: self.accelerator if p.name in serves else "cpu" for p in PLATFORMS}
        if not self.cpu_extra:
            return {None: routed}
        gpu_extra = self.accelerator.replace(".", "-")
        return {"cpu": dict.fromkeys(routed, "cpu"), gpu_extra: routed}


# uv locks for a Python it can run: the ones on this machine (3.14 is offered, but uv cannot
# download it here, so its cases are checked at question time only; see the note there).
LOCKABLE = tuple(p for p in compat.PYTHONS if shutil.which(f"python{p}"))

CASES = [
    Case(build.name, extra, packages, python)
    for build in cuda.BUILDS
    for extra in (False, True)
    if not (extra and not build.is_gpu)
    for packages in PACKAGE_SETS
    for python in compat.PYTHONS
]


def _line(version: str) -> str:
    major, minor = Version(version).release[:2]
    return f"{major}.{minor}"


@dataclass(frozen=True)
class Expected:
    line: str
    versions: dict[str, str]  # project -> public version on every platform


def expected(case: Case) -> Expected | None:
    """What the facts say the case must lock; None when no release can serve it."""
    lines = sorted({_line(v) for v in FACTS.all_versions("torch")}, key=Version, reverse=True)
    routes = [
        (index, platform)
        for routing in case.variants().values()
        for platform, index in routing.items()
    ]
    for line in lines:
        wanted = {"torch": line}
        made_for = FACTS.companions.get(line, {})
        if any(package not in made_for for package in case.packages):
            continue
        wanted.update({package: made_for[package] for package in case.packages})
        versions: dict[str, str] = {}
        for project, project_line in wanted.items():
            newest_everywhere = []
            for index, platform in routes:
                found = [
                    v
                    for v in FACTS.versions(index, project, platform, case.python)
                    if _line(v) == project_line
                ]
                if not found:
                    break
                newest_everywhere.append(max(found, key=Version))
            else:
                versions[project] = min(newest_everywhere, key=Version)
                continue
            break
        else:
            return Expected(line, versions)
    return None


def _locked_cases() -> list[Case]:
    """The accepted cases the tests lock: each build x extra x companions once, on a Python
    taken in turn from those this machine has, so every Python is locked with every build.

    Locking every Python would triple the time for little: the oracle differs between
    Pythons only where a release lacks wheels for one, which the question-time test covers
    for all 132 cases (tests/test_torch_matrix.py).
    """
    accepted = [case for case in CASES if expected(case) is not None and case.python in LOCKABLE]
    chosen: dict[tuple[str, bool, tuple[str, ...]], Case] = {}
    for case in accepted:
        key = (case.accelerator, case.cpu_extra, case.packages)
        turn = LOCKABLE[len(chosen) % len(LOCKABLE)]
        if key not in chosen and case.python == turn:
            chosen[key] = case
    for case in accepted:  # a combination no Python in turn accepted: its first accepted one
        chosen.setdefault((case.accelerator, case.cpu_extra, case.packages), case)
    return list(chosen.values())


# The cases the template accepts that the tests lock (see above).
LOCKED = _locked_cases()


def label(index: str, platform: str) -> str:
    """The local label of a wheel of `index` for `platform` (macOS CPU wheels have none)."""
    if index == "cpu" and platform == "macos-arm64":
        return ""
    return f"+{index}"


def would_install(project: Path, platform: str, extra: str | None) -> dict[str, str]:
    """Package -> version that `uv sync --locked` would install on `platform`, from uv.lock."""
    target = pytorch_facts.platform_named(platform)
    command = ["uv", "sync", "--locked", "--dry-run", "--python-platform"]
    command += [target.uv_python_platform] + (["--extra", extra] if extra else [])
    # An environment that does not exist, so that everything is listed (not only what the
    # project's own .venv lacks).
    nowhere = str(project / ".venv-dry-run-nowhere")
    env = {**os.environ, **dict(target.uv_environment), "UV_PROJECT_ENVIRONMENT": nowhere}
    result = run(command, project, env=env)
    assert result.returncode == 0, f"{platform} {extra}: {result.stderr}"
    return dict(re.findall(r"^ \+ ([\w.-]+)==(\S+)$", result.stderr, re.MULTILINE))


def render_and_lock(case: Case, destination: Path, **answers: object) -> Path:
    """Render the case and run its set-up up to the per-platform check ('verify')."""
    import copier

    copier.run_copy(
        str(TEMPLATE),
        str(destination),
        data={**case.answers, **answers},
        defaults=True,
        unsafe=True,
        vcs_ref="HEAD",
        quiet=True,
        skip_tasks=True,
    )
    setup = run(["uv", "run", "scripts/setup_env.py", "--until", "verify"], destination)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert "installs on Linux x86_64" in setup.stdout, setup.stdout
    return destination


def check_case(case: Case, project: Path) -> None:
    """Every platform of every extra installs the expected torch build and companions."""
    want = expected(case)
    assert want is not None
    routes = [
        (extra, platform, index)
        for extra, routing in case.variants().items()
        for platform, index in routing.items()
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        found = pool.map(lambda route: would_install(project, route[1], route[0]), routes)
    for (extra, platform, index), installed in zip(routes, found, strict=True):
        where = f"{platform} (extra {extra})"
        torch = want.versions["torch"] + label(index, platform)
        assert installed.get("torch") == torch, (where, installed)
        for package in case.packages:
            got = installed.get(package, "")
            assert got.split("+")[0] == want.versions[package], (where, package, installed)
            assert got.removeprefix(want.versions[package]) == label(index, platform), where
