"""The `platforms` question: its default, its refusals, and everything that follows it.

Render-level and plan-level checks: what the lock is made for (`environments`,
`required-environments`), PyTorch's routing among the chosen platforms, the README and
AGENTS.md, pixi, CI, and the generated project's own table of platforms. The set-up's
explanation of a package without wheels for a platform is read from uv's real outputs
(tests/data/uv-errors). Locks and installs are in test_platforms_lock.py.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import copier
import pytest
import yaml
from conftest import (
    ALL_PLATFORMS,
    DEFAULT,
    SUITE_PLATFORM,
    TEMPLATE,
    Render,
    import_file,
    import_kit,
    render,
    set_environment,
    with_base,
)
from packaging.markers import Marker

from extensions import cuda, pixi, plan, platforms, pytorch_facts, torch_index, torch_releases
from extensions.platforms import THIS_PLATFORM_ENV

TABLE = {platform.name: platform for platform in pytorch_facts.PLATFORMS}
SUBSETS = [
    list(names)
    for size in range(1, len(ALL_PLATFORMS) + 1)
    for names in itertools.combinations(ALL_PLATFORMS, size)
]
UV_ERRORS = Path(__file__).parent / "data" / "uv-errors"
REAL_WHEEL = "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"


def pyproject(project: Path) -> dict[str, Any]:
    return tomllib.loads((project / "pyproject.toml").read_text())


def answers_file(project: Path) -> dict[str, Any]:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


def selects(marker: str, platform: str) -> bool:
    target = TABLE[platform]
    return Marker(marker).evaluate(
        {"sys_platform": target.sys_platform, "platform_machine": target.machine}
    )


def refusal(tmp_path: Path, **answers: Any) -> str:
    """The validator's message for answers copier refuses; nothing may be written."""
    destination = tmp_path / "refused"
    with pytest.raises(ValueError) as refused:
        copier.run_copy(
            str(TEMPLATE), str(destination), data=with_base(answers), defaults=True,
            unsafe=True, vcs_ref="HEAD", quiet=True, skip_tasks=True,
        )  # fmt: skip
    assert not destination.exists()
    return " ".join(str(refused.value).split())


@pytest.fixture
def this_machine() -> Iterator[Any]:
    """Take the machine generating the project for another platform (then back)."""

    def _take(platform: str) -> None:
        set_environment(**{THIS_PLATFORM_ENV: platform})

    yield _take
    set_environment(**{THIS_PLATFORM_ENV: SUITE_PLATFORM})


# ── The default ────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("machine", "expected"),
    [
        ("linux-x86_64", ["linux-x86_64"]),
        ("macos-arm64", ["linux-x86_64", "macos-arm64"]),
        ("windows-x86_64", ["linux-x86_64", "windows-x86_64"]),
        ("linux-aarch64", ["linux-x86_64", "linux-aarch64"]),
        ("none", ["linux-x86_64"]),  # a machine none of them (an Intel Mac)
    ],
)
def test_default_is_this_machine_and_the_clusters(
    rendered: Render, this_machine: Any, machine: str, expected: list[str]
) -> None:
    this_machine(machine)
    project = rendered(platforms=DEFAULT, framework="none")
    assert answers_file(project)["platforms"] == expected
    uv = pyproject(project)["tool"]["uv"]
    assert uv["environments"] == uv["required-environments"] == [TABLE[p].marker for p in expected]


def test_this_machine_is_read_from_the_system_without_the_variable() -> None:
    assert platforms.this_platform({}) in (*ALL_PLATFORMS, None)
    assert platforms._machine_name("linux", "aarch64") == "linux-aarch64"
    assert platforms._machine_name("darwin", "arm64") == "macos-arm64"
    assert platforms._machine_name("darwin", "x86_64") is None
    assert platforms._machine_name("win32", "AMD64") == "windows-x86_64"
    assert platforms.this_platform({THIS_PLATFORM_ENV: "macos-arm64"}) == "macos-arm64"


def test_a_pixi_default_keeps_to_what_pixi_targets(rendered: Render, this_machine: Any) -> None:
    this_machine("windows-x86_64")
    project = rendered(platforms=DEFAULT, env_manager="pixi", framework="none")
    assert answers_file(project)["platforms"] == ["linux-x86_64"]


def test_an_existing_project_keeps_the_platforms_its_pyproject_targets(tmp_path: Path) -> None:
    """`copier update` of a project generated before the question: the default is what its
    lock was made for (all four then, or a subset narrowed by hand), not this machine's."""
    (tmp_path / "pyproject.toml").write_text(
        "[project]\nname = 'x'\n\n[tool.uv]\nrequired-environments = [\n"
        f'    "{TABLE["linux-x86_64"].marker}",\n    "{TABLE["macos-arm64"].marker}",\n]\n'
    )
    assert json.loads(platforms.default_platforms(tmp_path)) == ["linux-x86_64", "macos-arm64"]
    assert "already targets" in platforms.platforms_help(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")  # before #11: all
    assert json.loads(platforms.default_platforms(tmp_path)) == ALL_PLATFORMS
    (tmp_path / "pyproject.toml").write_text("[tool.ruff]\nline-length = 100\n")  # no project
    assert json.loads(platforms.default_platforms(tmp_path)) == [SUITE_PLATFORM]


# ── What follows the answer ─────────────────────────────────────────────────


@pytest.mark.parametrize("chosen", SUBSETS, ids=lambda names: "+".join(names))
def test_the_lock_is_made_for_the_chosen_platforms(rendered: Render, chosen: list[str]) -> None:
    project = rendered(platforms=chosen, framework="none")
    uv = pyproject(project)["tool"]["uv"]
    markers = [TABLE[name].marker for name in chosen]
    assert uv["environments"] == uv["required-environments"] == markers
    readme = (project / "README.md").read_text()
    labels = ", ".join(TABLE[name].label for name in chosen)
    assert f"The lock is made for {labels}:" in " ".join(readme.split())


def plans() -> Iterator[tuple[str, bool, list[str]]]:
    for build in cuda.BUILDS:
        for cpu_extra in (False, True) if build.is_gpu else (False,):
            for chosen in SUBSETS:
                yield build.name, cpu_extra, chosen


def torch_plan_for(accelerator: str, cpu_extra: bool, chosen: list[str]) -> plan.Plan:
    answers = plan.Answers.from_context(
        {
            "project_name": "Protein Folding", "package_name": "protein_folding",
            "description": "d", "author_name": "Ada", "license": "MIT",
            "framework": "pytorch", "env_manager": "uv", "python_version": "3.12",
            "extra_dependencies": "", "ci_provider": "github", "accelerator": accelerator,
            "cpu_extra": cpu_extra, "platforms": chosen,
        }
    )  # fmt: skip
    return plan.make_plan(answers)


@pytest.mark.parametrize(("accelerator", "cpu_extra", "chosen"), list(plans()))
def test_each_chosen_platform_takes_torch_from_one_index(
    accelerator: str, cpu_extra: bool, chosen: list[str]
) -> None:
    """Every build, both ways of installing it, every subset of platforms: each chosen
    platform is routed to exactly one index per way (the build's where it has wheels, the
    CPU build's elsewhere), or the answers are refused because the build serves none."""
    build = cuda.BUILDS_BY_NAME[accelerator]
    if build.is_gpu and not set(chosen) & set(build.platforms):
        with pytest.raises(torch_releases.NoRelease, match="add a platform it serves"):
            torch_plan_for(accelerator, cpu_extra, chosen)
        return
    made = torch_plan_for(accelerator, cpu_extra, chosen)
    torch_plan = made.torch_plan
    assert torch_plan is not None
    assert list(torch_plan.environments) == [TABLE[name].marker for name in chosen]
    extras = [None, *torch_plan.extras] if not torch_plan.extras else list(torch_plan.extras)
    for extra in extras:
        for name in chosen:
            sources = [
                s.index
                for s in torch_plan.sources["torch"]
                if s.extra == extra and (s.marker is None or selects(s.marker, name))
            ]
            gpu_here = extra != "cpu" and name in build.platforms
            assert sources == [f"pytorch-{accelerator if gpu_here else 'cpu'}"], (extra, name)
    used = {index.name for index in torch_plan.indexes}
    assert used == {s.index for s in torch_plan.sources["torch"]}  # no index without a source


def test_markers_tell_apart_only_the_chosen_platforms() -> None:
    """With the lock limited to Linux x86_64 and macOS, `sys_platform` alone routes."""
    made = torch_plan_for("cu130", False, ["linux-x86_64", "macos-arm64"])
    assert made.torch_plan is not None
    sources = {s.index: s.marker for s in made.torch_plan.sources["torch"]}
    assert sources == {
        "pytorch-cu130": "sys_platform == 'linux'",
        "pytorch-cpu": "sys_platform == 'darwin'",
    }
    linux_only = torch_plan_for("rocm7.2", False, ["linux-x86_64"]).torch_plan
    assert linux_only is not None
    assert [index.name for index in linux_only.indexes] == ["pytorch-rocm7.2"]
    assert "triton-rocm" in linux_only.dependencies  # on every platform of the lock


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        pytest.param({"platforms": []}, "No platform chosen", id="empty"),
        pytest.param(
            {"accelerator": "rocm7.2", "platforms": ["macos-arm64", "windows-x86_64"]},
            "rocm7.2 build for Linux x86_64 only",
            id="rocm-without-linux-x86_64",
        ),
        pytest.param(
            {"accelerator": "cu130", "platforms": ["macos-arm64"]},
            "cu130 build for Linux x86_64, Linux aarch64, Windows x86_64 only",
            id="cuda-on-a-mac-only",
        ),
        pytest.param(
            {"env_manager": "pixi", "platforms": ["linux-x86_64", "windows-x86_64"]},
            "pixi variant targets linux-x86_64, macos-arm64 only",
            id="pixi-windows",
        ),
        pytest.param({"platforms": ["linux-riscv64"]}, "Invalid choice", id="unknown"),
        pytest.param(
            {"platforms": ["macos-arm64"], "ci_provider": "gitlab"},
            "GitLab CI runs the checks in a Linux x86_64 container",
            id="gitlab-without-linux",
        ),
        pytest.param(
            {"platforms": ["macos-arm64", "windows-x86_64"], "container": "docker"},
            "Container images run Linux",
            id="container-without-linux",
        ),
        pytest.param(
            {"platforms": ["macos-arm64"], "include_slurm": True},
            "SLURM clusters run Linux",
            id="slurm-without-linux",
        ),
        pytest.param(
            {"platforms": ["macos-arm64"], "devcontainer": True},
            "A dev container runs Linux",
            id="devcontainer-without-linux",
        ),
    ],
)
def test_answers_no_lock_can_serve_are_refused(
    tmp_path: Path, answers: dict[str, Any], message: str
) -> None:
    assert message in refusal(tmp_path, **answers)


def test_a_bare_platform_on_copiers_command_line_is_one_line_naming_the_list_form(
    tmp_path: Path,
) -> None:
    """Copier reads only a YAML list for a question of several answers, and raises a
    TypeError (forty lines of traceback) on `-d platforms=linux-x86_64`."""
    environment = os.environ | {"PYTHONWARNINGS": "ignore"}  # -r HEAD of a dirty clone warns
    done = subprocess.run(
        [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--skip-tasks",
         "-r", "HEAD", "-d", "project_name=Protein Folding", "-d", "author_name=Ada",
         "-d", "framework=none", "-d", "platforms=linux-x86_64", str(TEMPLATE),
         str(tmp_path / "project")],
        cwd=tmp_path, capture_output=True, text=True, env=environment, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Answer refused: 'linux-x86_64' is not a list, and a question of several answers "
        '(platforms, torch_packages) takes one in brackets, e.g. -d "platforms=[linux-x86_64, '
        'macos-arm64]" or -d "platforms=[linux-x86_64]".'
    ]
    assert not (tmp_path / "project").exists()


def test_the_refusals_name_the_fix(tmp_path: Path) -> None:
    said = refusal(tmp_path, accelerator="rocm7.2", platforms=["macos-arm64"])
    assert "Choose another accelerator, or add a platform it serves to `platforms`" in said
    said = refusal(tmp_path, platforms=[])
    assert "choose at least one" in said


def test_the_newest_line_needs_only_the_chosen_platforms(tmp_path: Path) -> None:
    """`newest`: the newest line every index holds for the chosen platforms: a folder with
    torch 2.15 for Linux only and 2.14 for both gives Linux 2.15, Linux + macOS 2.14."""
    folder = tmp_path / "wheels"
    folder.mkdir()
    for name in (
        "torch-2.14.0+cpu-cp312-cp312-manylinux_2_28_x86_64.whl",
        "torch-2.14.0-cp312-none-macosx_14_0_arm64.whl",
        "torch-2.15.0+cpu-cp312-cp312-manylinux_2_28_x86_64.whl",
    ):
        (folder / name).touch()  # the question reads file names only
    facts = platforms.wheel_folder.read(str(folder))
    assert facts is not None
    linux = torch_releases.choose("cpu", [], "3.12", platforms=["linux-x86_64"], facts=facts.facts)
    both = torch_releases.choose(
        "cpu", [], "3.12", platforms=["linux-x86_64", "macos-arm64"], facts=facts.facts
    )
    assert (linux.line, both.line) == ("2.15", "2.14")


# ── Documents ──────────────────────────────────────────────────────────────


def test_a_project_beyond_linux_shows_the_marker_before_uv_add_fails(rendered: Render) -> None:
    project = rendered(platforms=ALL_PLATFORMS, agents_md=True)
    readme = " ".join((project / "README.md").read_text().split())
    assert "uv add \"triton; sys_platform == 'linux'\"" in readme
    assert "No solution found when resolving dependencies for split" in readme
    assert '-d "platforms=[linux-x86_64]"' in readme  # the other way out
    agents = " ".join((project / "AGENTS.md").read_text().split())
    assert "uv add \"triton; sys_platform == 'linux'\"" in agents
    assert "Never edit the platforms by hand" in agents


def test_a_linux_project_adds_linux_packages_as_they_are(rendered: Render) -> None:
    project = rendered(platforms=["linux-x86_64"], agents_md=True)
    readme = " ".join((project / "README.md").read_text().split())
    assert "The project targets Linux only" in readme and "`uv add triton`" in readme
    assert "sys_platform == 'linux'\"" not in readme
    assert '-d "platforms=[linux-x86_64, macos-arm64]"' in readme
    assert "Linux x86_64" in (project / "AGENTS.md").read_text()
    assert "Linux aarch64" not in readme and "Windows" not in readme


def test_the_pytorch_section_names_where_each_build_comes_from(tmp_path: Path) -> None:
    project = render(
        tmp_path / "a",
        skip_tasks=True,
        accelerator="cu130",
        platforms=["linux-aarch64", "macos-arm64"],
    )
    readme = " ".join((project / "README.md").read_text().split())
    assert "On Linux aarch64 they come from `pytorch-cu130`" in readme
    assert "this project runs on (macOS arm64; on a Mac, Apple-silicon GPUs" in readme
    only_linux = render(
        tmp_path / "b", skip_tasks=True, accelerator="cu130", platforms=["linux-x86_64"]
    )
    readme = " ".join((only_linux / "README.md").read_text().split())
    assert "on every platform this project runs on (Linux x86_64)" in readme
    assert "pytorch-cpu" not in (only_linux / "pyproject.toml").read_text()


def test_pixi_follows_the_answer(tmp_path: Path) -> None:
    project = render(
        tmp_path / "a", skip_tasks=True, env_manager="pixi", accelerator="cu130",
        platforms=["linux-x86_64"],
    )  # fmt: skip
    entries = pyproject(project)["tool"]["pixi"]["workspace"]["platforms"]
    assert [e if isinstance(e, str) else e["name"] for e in entries] == [
        "linux-64-cuda",
        "linux-64-cpu",
    ]
    assert "osx-arm64" not in (project / "README.md").read_text()
    mac = render(
        tmp_path / "b", skip_tasks=True, env_manager="pixi", framework="none",
        platforms=["macos-arm64"],
    )  # fmt: skip
    assert pyproject(mac)["tool"]["pixi"]["workspace"]["platforms"] == ["osx-arm64"]
    assert pixi.PIXI_PLATFORMS == ("linux-x86_64", "macos-arm64")


# ── The generated project's own table ──────────────────────────────────────


def generated_module(project: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return import_file(project / "kit/src/research_kit" / f"{name}.py", monkeypatch)


def test_the_generated_table_is_the_templates(
    rendered: Render, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One table of platforms: the project's copy (for scripts/setup_env.py) is rendered from
    pytorch_facts.PLATFORMS, its markers and update command say what the template's do."""
    table = generated_module(rendered(platforms=["linux-x86_64"]), "platforms", monkeypatch)
    for mine, theirs in zip(table.PLATFORMS, pytorch_facts.PLATFORMS, strict=True):
        assert (mine.name, mine.label, mine.uv_python_platform) == (
            theirs.name,
            theirs.label,
            theirs.uv_python_platform,
        )
        assert (mine.sys_platform, mine.machine) == (theirs.sys_platform, theirs.machine)
        assert mine.uv_environment == theirs.uv_environment
        assert table.marker(mine) == theirs.marker
    by_name = {p.name: p for p in table.PLATFORMS}
    for targets in SUBSETS:
        for size in range(1, len(targets) + 1):
            for chosen in itertools.combinations(targets, size):
                generated = table.marker_for(
                    [by_name[n] for n in chosen], [by_name[n] for n in targets]
                )
                assert generated == torch_index.platforms_marker(chosen, targets)
    assert table.update_command([by_name["linux-x86_64"]]) == platforms.update_command(
        ["linux-x86_64"]
    )


# ── Local wheel folders at question time ───────────────────────────────────


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A folder the validators read by file name: empty files named like wheels."""
    path = tmp_path / "labwheels"
    path.mkdir()
    return path


def holding(folder: Path, *names: str) -> str:
    for name in names:
        (folder / name).touch()
    return str(folder)


def test_a_flat_folder_is_read_by_local_label(folder: Path) -> None:
    holding(
        folder,
        REAL_WHEEL,
        "torch-2.13.0-cp311-none-macosx_14_0_arm64.whl",  # unlabelled on macOS: CPU
        "torch-2.13.0+cu130-cp311-cp311-manylinux_2_28_aarch64.whl",
        "torch-2.13.0-cp311-cp311-manylinux_2_28_x86_64.whl",  # PyPI's: which CUDA?
        "numpy-2.3.0-cp311-cp311-manylinux_2_28_x86_64.whl",  # not PyTorch's: not read
    )
    found = platforms.wheel_folder.read(str(folder))
    assert found is not None and found.layout == platforms.wheel_folder.FLAT
    assert found.builds() == ("cpu", "cu130")
    assert found.platforms("cpu") == ("linux-x86_64", "macos-arm64")
    assert found.platforms("cu130", "3.11") == ("linux-aarch64",)
    assert found.unattributed == ("torch-2.13.0-cp311-cp311-manylinux_2_28_x86_64.whl",)
    assert torch_index.torch_index(str(folder), "cu130").url == str(folder)


def test_a_folder_narrows_the_default_and_says_so(folder: Path) -> None:
    base = holding(folder, REAL_WHEEL)
    names = json.loads(platforms.default_platforms("", "pytorch", "uv", "cpu", base, "3.11"))
    assert names == ["linux-x86_64"]
    set_environment(**{THIS_PLATFORM_ENV: "macos-arm64"})
    try:
        help_text = platforms.platforms_help("", "pytorch", "uv", "cpu", base, "3.11")
        names = json.loads(platforms.default_platforms("", "pytorch", "uv", "cpu", base, "3.11"))
    finally:
        set_environment(**{THIS_PLATFORM_ENV: SUITE_PLATFORM})
    assert names == ["linux-x86_64"]
    assert f"The wheel folder {folder} serves Linux x86_64 only" in help_text


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        pytest.param(
            {"python_version": "3.12"},
            "holds no torch wheel of the cpu build for Python 3.12 (it holds torch "
            "2.13.0+cpu for Linux x86_64, Python 3.11). Choose 3.11",
            id="python",
        ),
        pytest.param(
            {"platforms": ["linux-x86_64", "macos-arm64"]},
            "holds no torch wheel of the cpu build for macOS arm64 and Python 3.11",
            id="platform",
        ),
        pytest.param(
            {"accelerator": "cu130"}, "holds no torch wheel of the cu130 build", id="build"
        ),
        pytest.param(
            {"torch_packages": ["torchvision"], "platforms": ["linux-x86_64"]},
            "holds no torchvision",
            id="companion",
        ),
        pytest.param(
            {"platforms": ["linux-x86_64"], "torch_version": "2.14"},
            "Invalid choice",  # the folder's releases are the choices
            id="release",
        ),
        pytest.param(
            {"platforms": ["linux-x86_64"], "ci_provider": "github"},
            "a github runner cannot see",
            id="ci",
        ),
        pytest.param(
            {"platforms": ["linux-x86_64"], "devcontainer": True},
            "a dev container cannot see",
            id="devcontainer",
        ),
    ],
)
def test_a_folder_that_cannot_serve_the_answers_is_refused_naming_what_is_missing(
    tmp_path: Path, folder: Path, answers: dict[str, Any], message: str
) -> None:
    base = holding(folder, REAL_WHEEL)
    said = refusal(tmp_path, **{"torch_index_url": base, "python_version": "3.11", **answers})
    assert message in said, said


def test_a_flat_folder_of_two_builds_for_one_platform_is_refused(
    tmp_path: Path, folder: Path
) -> None:
    base = holding(folder, REAL_WHEEL, "torch-2.13.0+cu130-cp311-cp311-manylinux_2_28_x86_64.whl")
    said = refusal(tmp_path, torch_index_url=base, platforms=["linux-x86_64"])
    assert "holds torch wheels of several builds for Linux x86_64 (cpu, cu130)" in said
    assert f"{folder / 'cpu'}/, {folder / 'cu130'}/" in said  # the layout that works


def test_a_folder_per_build_serves_its_builds(rendered: Render, folder: Path) -> None:
    for build, name in (
        ("cu130", "torch-2.13.0+cu130-cp311-cp311-manylinux_2_28_x86_64.whl"),
        ("cpu", "torch-2.13.0-cp311-none-macosx_14_0_arm64.whl"),
    ):
        (folder / build).mkdir()
        (folder / build / name).touch()
    project = rendered(
        accelerator="cu130",
        torch_index_url=str(folder),
        platforms=["linux-x86_64", "macos-arm64"],
        ci_provider="none",
    )
    indexes = {i["name"]: i["url"] for i in pyproject(project)["tool"]["uv"]["index"]}
    assert indexes == {"pytorch-cu130": str(folder / "cu130"), "pytorch-cpu": str(folder / "cpu")}
    assert "torch==2.13.*" in pyproject(project)["tool"]["uv"]["constraint-dependencies"]
    readme = (project / "README.md").read_text()
    assert "**CI.** None: PyTorch comes from the local folder" in readme


# ── The set-up reads uv's real words ────────────────────────────────────────


def setup_env_of(project: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The project's own set-up module that reads uv's words, working on `project`."""
    return import_kit(project, "research_kit.setup.platform_gaps", monkeypatch)


@pytest.fixture(scope="module")
def four_platform_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = render(tmp_path_factory.mktemp("gap") / "project", skip_tasks=True, framework="none")
    text = (project / "pyproject.toml").read_text()
    added = '"cupy-cuda12x",\n    "decord",\n    "numpy",\n    "triton>=3",\n    "vllm",'
    (project / "pyproject.toml").write_text(text.replace('"numpy",', added, 1))
    return project


@pytest.mark.parametrize(
    ("output", "said", "marker", "kept"),
    [
        (
            "lock-triton.txt",
            "triton has no wheels for Windows x86_64",
            "uv remove --frozen triton && uv add \"triton>=3; sys_platform == 'linux'\"",
            "linux-x86_64, linux-aarch64",
        ),
        (
            "add-triton.txt",
            "triton has no wheels for Windows x86_64",
            "uv add \"triton>=3; sys_platform == 'linux'\"",
            "linux-x86_64, linux-aarch64",
        ),
        (
            "lock-cupy-cuda12x.txt",
            "cupy-cuda12x has no wheels for macOS arm64",
            "uv add \"cupy-cuda12x; sys_platform == 'linux'\"",
            "linux-x86_64, linux-aarch64",
        ),
        (
            "lock-decord.txt",
            "decord has no wheels for Linux aarch64",
            "uv add \"decord; sys_platform == 'linux' and platform_machine == 'x86_64'\"",
            "linux-x86_64",
        ),
        (
            "add-vllm.txt",
            "vllm (through vllm-flash-attn) has no wheels for Linux aarch64",
            "uv add \"vllm; sys_platform == 'linux' and platform_machine == 'x86_64'\"",
            "linux-x86_64",
        ),
    ],
)
def test_uvs_words_become_the_package_the_platform_and_both_fixes(
    four_platform_project: Path,
    output: str,
    said: str,
    marker: str,
    kept: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    setup_env = setup_env_of(four_platform_project, monkeypatch)
    text = (UV_ERRORS / output).read_text()
    explained = setup_env.platform_gap(text)
    assert explained is not None, output
    message, hint = explained
    assert message.startswith(said)
    assert "(Linux x86_64, Linux aarch64, Windows x86_64, macOS arm64)" in message
    assert marker in hint
    assert f'-d "platforms=[{kept}]"' in hint
    # uv wraps its lines where it likes: the same words wrapped elsewhere read the same.
    rewrapped = text.replace(" has no ", "\n          has no ").replace(" and ", "\n and ")
    assert setup_env.platform_gap(rewrapped) == explained


def test_a_missing_wheel_found_by_the_check_is_explained(
    four_platform_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (UV_ERRORS / "sync-macos15only.txt").read_text()
    project = four_platform_project
    setup_env = setup_env_of(project, monkeypatch)
    macos = setup_env.platform_table()[-1]
    assert macos.name == "macos-arm64"
    assert setup_env.platform_gap(text) is None  # which platform: only the caller knows
    original = (project / "pyproject.toml").read_text()
    (project / "pyproject.toml").write_text(
        original.replace('"numpy",', '"macos15only",\n    "numpy",', 1)
    )
    try:
        explained = setup_env.platform_gap(text, macos)
    finally:
        (project / "pyproject.toml").write_text(original)
    assert explained is not None
    assert explained[0].startswith("macos15only has no wheels for macOS arm64")


def test_other_failures_are_left_to_uvs_own_words(
    four_platform_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup_env = setup_env_of(four_platform_project, monkeypatch)
    assert (
        setup_env.platform_gap("error: Failed to fetch: `https://pypi.org/simple/numpy/`") is None
    )
    no_wheel_for_python = (
        "error: No solution found when resolving dependencies:\n  cause: Because only "
        "numpy<=1.0 is available and numpy<=1.0 has no wheels with a matching Python ABI tag"
    )
    assert setup_env.platform_gap(no_wheel_for_python) is None


def test_a_package_no_target_platform_has_names_no_marker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = render(
        tmp_path / "p", skip_tasks=True, framework="none", platforms=["windows-x86_64"]
    )
    text = (project / "pyproject.toml").read_text()
    (project / "pyproject.toml").write_text(text.replace('"numpy",', '"triton",\n    "numpy",', 1))
    setup_env = setup_env_of(project, monkeypatch)
    explained = setup_env.platform_gap((UV_ERRORS / "lock-triton.txt").read_text())
    assert explained is not None
    message, hint = explained
    assert "(Windows x86_64)" in message
    assert "targets Windows x86_64 only: choose another version of triton" in hint
    assert "uv add" not in hint


def test_the_copied_table_has_no_platform_the_template_lacks() -> None:
    """The set-up keeps no table of its own any more (it had one that duplicated it)."""
    kit = TEMPLATE / "template" / "kit" / "src" / "research_kit" / "setup"
    source = "".join(path.read_text() for path in sorted(kit.glob("*.py")))
    assert source and "PYTHON_PLATFORMS" not in source and "x86_64-manylinux_2_28" not in source


LINUX = "; sys_platform == 'linux'"
LINUX_X86 = "; sys_platform == 'linux' and platform_machine == 'x86_64'"


@pytest.mark.parametrize(
    ("made_for", "targets", "marker"),
    [
        (("linux-x86_64", "linux-aarch64"), tuple(ALL_PLATFORMS), LINUX),
        (("linux-x86_64", "linux-aarch64"), ("linux-x86_64",), ""),
        (("linux-x86_64", "linux-aarch64"), ("macos-arm64",), LINUX),  # serves none of them
        (("linux-x86_64",), tuple(ALL_PLATFORMS), LINUX_X86),
        (("linux-x86_64",), ("linux-x86_64", "linux-aarch64"), LINUX_X86),
        (("linux-x86_64",), ("linux-x86_64", "macos-arm64"), LINUX),  # the only Linux target
        (("linux-x86_64",), ("linux-aarch64",), LINUX_X86),
    ],
)
def test_a_package_made_for_some_platforms_takes_the_marker_the_lock_needs(
    made_for: tuple[str, ...], targets: tuple[str, ...], marker: str
) -> None:
    """The README's recipes (xformers, vllm, flash-attn) add each package with this marker."""
    assert torch_index.requirement_marker(made_for, targets) == marker
