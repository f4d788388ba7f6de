"""Issue #19: a locked environment carried to a node that reaches no index.

`uv run scripts/setup_env.py wheelhouse DIR` writes, where there is network, every file
uv.lock installs on the target platforms and what the set-up needs to start; on a node
without network `uv run scripts/setup_env.py --wheelhouse DIR` installs from DIR alone.

The round trip runs against the replica of PyTorch's indexes (served on loopback, the real
CPU wheel in its slot) and PyPI. On the node side the replica's server is shut (its port is
closed), every proxy variable points at a closed local port, UV_OFFLINE is set, uv's cache
is empty, and, where this machine allows user namespaces, the node runs in a network
namespace of its own with no interface but loopback (`unshare -rn`). A plain `uv sync`
fails there, which proves the block.

The project's default index is left as locked: pointing UV_DEFAULT_INDEX elsewhere makes
uv.lock stale for `--locked` (uv checks each package's index against the project's), which
no node could then install, wheelhouse or not.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import replica
from conftest import Render, git, import_kit, render, run

from extensions import pytorch_facts


def setup_script(
    project: Path, monkeypatch: pytest.MonkeyPatch, module: str = "wheelhouse"
) -> ModuleType:
    """The generated project's set-up module (research_kit.setup.wheelhouse), imported from
    where it was written (kit/src)."""
    return import_kit(project, f"research_kit.setup.{module}", monkeypatch)


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def isolated() -> list[str]:
    """`unshare -rn` where this machine allows it: a network namespace with loopback only."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-rn", "true"], check=False).returncode == 0:
        return [unshare, "-rn"]
    return []


# ── Which files a wheelhouse carries ──────────────────────────────────────────

# Real file names, as PyPI and PyTorch's indexes publish them.
NUMPY = [
    "numpy-2.3.3-cp311-cp311-macosx_10_9_x86_64.whl",
    "numpy-2.3.3-cp311-cp311-macosx_11_0_arm64.whl",
    "numpy-2.3.3-cp311-cp311-macosx_14_0_arm64.whl",
    "numpy-2.3.3-cp311-cp311-macosx_14_0_x86_64.whl",
    "numpy-2.3.3-cp311-cp311-manylinux_2_27_aarch64.manylinux_2_28_aarch64.whl",
    "numpy-2.3.3-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
    "numpy-2.3.3-cp311-cp311-musllinux_1_2_aarch64.whl",
    "numpy-2.3.3-cp311-cp311-musllinux_1_2_x86_64.whl",
    "numpy-2.3.3-cp311-cp311-win32.whl",
    "numpy-2.3.3-cp311-cp311-win_amd64.whl",
    "numpy-2.3.3-cp311-cp311-win_arm64.whl",
    "numpy-2.3.3-cp312-cp312-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
    "numpy-2.3.3-pp311-pypy311_pp73-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
    "numpy-2.3.3.tar.gz",
]
PYDANTIC_CORE = [
    "pydantic_core-2.33.2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "pydantic_core-2.33.2-cp311-cp311-musllinux_1_1_x86_64.whl",
    "pydantic_core-2.33.2-cp311-cp311-macosx_11_0_arm64.whl",
    "pydantic_core-2.33.2.tar.gz",
]
ABI3 = [
    "cryptography-46.0.1-cp311-abi3-manylinux_2_28_x86_64.whl",
    "cryptography-46.0.1-cp311-abi3-manylinux_2_34_x86_64.whl",
    "cryptography-46.0.1-cp38-abi3-manylinux_2_28_x86_64.whl",
    "cryptography-46.0.1.tar.gz",
]


@pytest.mark.parametrize(
    ("files", "platform", "python", "chosen"),
    [
        (NUMPY, "linux-x86_64", "3.11", NUMPY[5]),
        (NUMPY, "linux-aarch64", "3.11", NUMPY[4]),
        (NUMPY, "macos-arm64", "3.11", NUMPY[2]),  # macOS 14 before 11, as uv picks
        (NUMPY, "windows-x86_64", "3.11", NUMPY[9]),
        (NUMPY, "linux-x86_64", "3.12", NUMPY[11]),
        (NUMPY, "linux-x86_64", "3.13", NUMPY[-1]),  # no wheel: the sdist
        (PYDANTIC_CORE, "linux-x86_64", "3.11", PYDANTIC_CORE[0]),  # manylinux2014
        (ABI3, "linux-x86_64", "3.11", ABI3[0]),  # glibc 2.34 is newer than the check's 2.28
        (ABI3, "linux-x86_64", "3.13", ABI3[0]),  # an abi3 wheel serves later Pythons
    ],
)
def test_the_wheelhouse_carries_the_file_an_installer_picks_there(
    rendered: Render,
    monkeypatch: pytest.MonkeyPatch,
    files: list[str],
    platform: str,
    python: str,
    chosen: str,
) -> None:
    script = setup_script(rendered(framework="none"), monkeypatch)
    locked = [script.LockedFile(name, f"https://files.example.org/{name}", "") for name in files]
    best = script.best_file(locked, script.supported_tags(platform, python))
    assert best is not None and best.name == chosen


def test_the_wheelhouse_names_the_templates_platforms(
    rendered: Render, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = setup_script(rendered(framework="none"), monkeypatch)
    for platform in pytorch_facts.PLATFORMS:
        assert script.platform_name(platform.sys_platform, platform.machine) == platform.name


def test_urls_of_carried_files_point_at_the_folder(
    rendered: Render, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    script = setup_script(rendered(framework="none"), monkeypatch)
    folder = tmp_path / "wheel house"
    folder.mkdir()
    (folder / "lab_tool-1.0-py3-none-any.whl").write_bytes(b"")
    text = (
        "lab-tool @ https://lab.example.org/files/lab_tool-1.0-py3-none-any.whl \\\n"
        "    --hash=sha256:00\n"
        "other @ https://lab.example.org/other-2.0-py3-none-any.whl\n"
    )
    rewritten = script.local_requirements(text, folder)
    assert f"lab-tool @ {(folder / 'lab_tool-1.0-py3-none-any.whl').as_uri()} \\" in rewritten
    assert "--hash=sha256:00" in rewritten
    assert "other @ https://lab.example.org/other-2.0-py3-none-any.whl" in rewritten


def test_a_file_is_fetched_only_with_the_locks_sha256(
    rendered: Render, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    script = setup_script(rendered(framework="none"), monkeypatch)
    source = tmp_path / "index" / "lab_tool-1.0-py3-none-any.whl"
    source.parent.mkdir()
    source.write_bytes(b"the locked bytes")
    digest = hashlib.sha256(b"the locked bytes").hexdigest()
    folder = tmp_path / "house"
    folder.mkdir()
    for where in (str(source), source.as_uri()):  # a local folder index; a file: URL
        locked = script.LockedFile(source.name, where, digest)
        assert script.fetch(locked, folder, {})[0] == "fetched"
        assert script.fetch(locked, folder, {})[0] == "kept"
        (folder / source.name).unlink()
    tampered = script.LockedFile(source.name, str(source), "0" * 64)
    with pytest.raises(script.StepFailed, match=r"but uv\.lock records 0000"):
        script.fetch(tampered, folder, {})
    assert list(folder.iterdir()) == []  # nothing half-written is left


def test_a_source_only_package_carries_its_build_requirements(
    rendered: Render, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    script = setup_script(rendered(framework="none"), monkeypatch)
    pyproject = b'[build-system]\nrequires = ["scikit-build-core>=0.10", "pybind11"]\n'
    archive = tmp_path / "lab_tool-1.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("lab_tool-1.0/pyproject.toml")
        info.size = len(pyproject)
        tar.addfile(info, io.BytesIO(pyproject))
    assert script.sdist_build_requires(archive) == ["scikit-build-core>=0.10", "pybind11"]
    legacy = tmp_path / "old_tool-0.1.zip"  # setup.py only: setuptools, as installers assume
    with zipfile.ZipFile(legacy, "w") as zipped:
        zipped.writestr("old_tool-0.1/setup.py", "from setuptools import setup\nsetup()\n")
    assert script.sdist_build_requires(legacy) == ["setuptools>=40.8.0"]


@pytest.fixture(scope="module")
def two_builds(
    tmp_path_factory: pytest.TempPathFactory,
    stand_in_index: Path,
    real_torch_line: str,
    fresh_uv_cache: Path,
) -> Path:
    """A CUDA project with the CPU build as a second extra, locked on the replica's folders
    (a local folder index: uv.lock records paths, without hashes)."""
    project = render(
        tmp_path_factory.mktemp("two-builds") / "protein-folding",
        skip_tasks=True,
        accelerator="cu130",
        cpu_extra=True,
        torch_index_url=str(stand_in_index),
        torch_version=real_torch_line,
    )
    locked = run(["uv", "lock"], project)
    assert locked.returncode == 0, locked.stderr
    return project


@pytest.mark.parametrize(
    ("extra", "platform", "expected", "absent"),
    [
        ("cpu", "linux-x86_64", "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64", "nvidia"),
        ("cu130", "linux-x86_64", "torch-2.13.0+cu130-cp311-cp311-manylinux_2_28_x86_64", "win"),
        ("cu130", "linux-aarch64", "torch-2.13.0+cu130-cp311-cp311-manylinux_2_28_aarch64", "x86"),
        ("cu130", "windows-x86_64", "torch-2.13.0+cu130-cp311-cp311-win_amd64", "nvidia"),
        ("cu130", "macos-arm64", "torch-2.13.0-cp311-cp311-macosx_14_0_arm64", "nvidia"),
    ],
)
def test_each_build_and_platform_carries_its_own_files(
    two_builds: Path,
    monkeypatch: pytest.MonkeyPatch,
    extra: str,
    platform: str,
    expected: str,
    absent: str,
) -> None:
    script = setup_script(two_builds, monkeypatch)
    exported = run(["uv", "export", "--locked", "--no-emit-project", "--extra", extra], two_builds)
    assert exported.returncode == 0, exported.stderr
    lock = (two_builds / "uv.lock").read_text()
    files, problems = script.files_to_carry(lock, [exported.stdout], [platform], "3.11")
    assert problems == []
    torch = [name for name in files if name.startswith("torch-")]
    assert torch == [f"{expected}.whl"]
    assert Path(files[torch[0]].source).is_file()  # the folder's own file, by its path
    assert not [name for name in files if absent in name]
    gpu = extra == "cu130" and platform.startswith("linux")
    assert any(name.startswith("nvidia_cublas") for name in files) == gpu
    assert any(name.startswith("colorama") for name in files) == platform.startswith("windows")


# ── What the node refuses, early and by name ──────────────────────────────────


@pytest.fixture
def node_project(rendered: Render) -> Path:
    project = rendered(framework="none")
    (project / "uv.lock").write_text("version = 1\n")
    return project


def write_manifest(folder: Path, lock: Path, **fields: object) -> None:
    folder.mkdir(exist_ok=True)
    manifest = {
        "project": "protein-folding",
        "lock_sha256": hashlib.sha256(lock.read_bytes()).hexdigest(),
        "python": "3.11",
        "platforms": ["linux-x86_64", "linux-aarch64", "macos-arm64", "windows-x86_64"],
        "extras": [],
        "files": {},
    }
    manifest.update(fields)
    (folder / "wheelhouse.json").write_text(json.dumps(manifest))


def test_a_folder_that_is_no_wheelhouse_is_refused(
    node_project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    script = setup_script(node_project, monkeypatch)
    with pytest.raises(script.StepFailed, match="is not a wheelhouse") as refused:
        script.check_wheelhouse(tmp_path)
    assert "uv run scripts/setup_env.py wheelhouse" in refused.value.hint


def test_a_wheelhouse_of_another_lock_is_refused(
    node_project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    script = setup_script(node_project, monkeypatch)
    write_manifest(tmp_path / "w", node_project / "uv.lock", lock_sha256="0" * 64)
    with pytest.raises(script.StepFailed, match=r"written for another uv\.lock"):
        script.check_wheelhouse(tmp_path / "w")


def test_a_wheelhouse_of_another_platform_is_refused_naming_both(
    node_project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    script = setup_script(node_project, monkeypatch)
    write_manifest(tmp_path / "w", node_project / "uv.lock", platforms=["windows-arm64"])
    monkeypatch.setattr(script, "cpu_architecture", lambda: "aarch64")
    monkeypatch.setattr(script.sys, "platform", "linux")
    with pytest.raises(script.StepFailed, match=r"files of windows-arm64, not of this machine "
                       r"\(linux-aarch64\)") as refused:  # fmt: skip
        script.check_wheelhouse(tmp_path / "w")
    assert refused.value.hint.endswith("--platform linux-aarch64")


def test_a_wheelhouse_missing_files_is_refused(
    node_project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    script = setup_script(node_project, monkeypatch)
    files = {f"pkg{n}-1.0-py3-none-any.whl": "0" * 64 for n in range(5)}
    write_manifest(tmp_path / "w", node_project / "uv.lock", files=files)
    with pytest.raises(script.StepFailed, match=r"lacks 5 of its files: pkg0-1\.0"):
        script.check_wheelhouse(tmp_path / "w")


def test_the_wheelhouse_set_up_skips_what_needs_an_index(
    rendered: Render, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    script = setup_script(rendered(framework="none"), monkeypatch)
    steps = importlib.import_module("research_kit.setup.sequence").STEPS  # the same project's
    names = [step.name for step in script.wheelhouse_steps(steps, tmp_path)]
    assert names == ["env", "wheelhouse", "sync", "check"]
    until_verify = steps[: [s.name for s in steps].index("verify") + 1]
    assert [s.name for s in script.wheelhouse_steps(until_verify, tmp_path)] == [
        "env",
        "wheelhouse",
    ]


def test_the_writer_refuses_a_platform_the_project_does_not_lock(
    rendered: Render,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = rendered(framework="none")
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    # A Linux-only project, as the platforms question writes one.
    linux_only = (
        "required-environments = [\n"
        "    \"sys_platform == 'linux' and platform_machine == 'x86_64'\",\n]\n"
    )
    start = text.index("required-environments = [")
    pyproject.write_text(text[:start] + linux_only + text[text.index("]\n", start) + 2 :])
    cli = setup_script(project, monkeypatch, "cli")
    assert cli.main(["wheelhouse", str(tmp_path / "w"), "--platform", "macos-arm64"]) == 2
    error = capsys.readouterr().err
    assert "--platform macos-arm64: not a platform this project locks (linux-x86_64;" in error
    assert not (tmp_path / "w").exists()


# ── What the README says ──────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("answers", "shown", "not_shown"),
    [
        ({}, "Python 3.11", "--extra"),
        ({"accelerator": "cu130", "cpu_extra": True}, "`--extra cu130` carries only", ""),
        ({"framework": "none", "python_version": "3.12"}, "Python 3.12", "PyTorch"),
    ],
)
def test_the_readme_shows_how_to_carry_the_environment(
    rendered: Render, answers: dict[str, object], shown: str, not_shown: str
) -> None:
    readme = (rendered(**answers) / "README.md").read_text()
    section = readme[readme.index("## Clusters without internet") :]
    section = section[: section.index("\n## ", 1)]
    # The commands the round trip below runs, in the README's words.
    assert (
        'uv run scripts/setup_env.py wheelhouse "$HOME/wheelhouse" --platform linux-x86_64'
        in section
    )
    assert 'export UV_OFFLINE=1 UV_FIND_LINKS="$HOME/wheelhouse"' in section
    assert 'uv run scripts/setup_env.py --wheelhouse "$HOME/wheelhouse"' in section
    assert shown in " ".join(section.split())
    assert not not_shown or not_shown not in section


def test_a_pixi_project_has_no_wheelhouse(rendered: Render) -> None:
    readme = (rendered(env_manager="pixi") / "README.md").read_text()
    assert "wheelhouse" not in readme


# ── The round trip, the network blocked on the node ─────────────────────────


@pytest.fixture(scope="module")
def carried(
    tmp_path_factory: pytest.TempPathFactory,
    pytorch_replica: replica.Replica,
    real_torch_line: str,
    fresh_uv_cache: Path,
) -> Iterator[tuple[Path, Path, str]]:
    """A PyTorch project locked against the replica, its wheelhouse for linux-x86_64, and
    the replica's address, whose server is shut once the wheelhouse is written."""
    root = tmp_path_factory.mktemp("wheelhouse")
    project = root / "protein-folding"
    folder = root / "wheel house"  # a space: paths are quoted where they are shown
    with replica.serve(pytorch_replica) as url:
        render(project, skip_tasks=True, torch_index_url=url, torch_version=real_torch_line)
        prepared = run(["uv", "run", "scripts/setup_env.py", "--until", "verify"], project)
        assert prepared.returncode == 0, prepared.stdout + prepared.stderr
        git("init", "-q", cwd=project)
        git("add", "-A", cwd=project)
        git("commit", "-q", "-m", "locked", cwd=project)
        written = run(
            ["uv", "run", "scripts/setup_env.py", "wheelhouse", str(folder), "--platform",
             "linux-x86_64"], project,
        )  # fmt: skip
        assert written.returncode == 0, written.stdout + written.stderr
    yield project, folder, url


def node_environment(cache: Path, folder: Path) -> dict[str, str]:
    """A node without network: empty cache, offline, every proxy at a closed port."""
    proxy = f"http://127.0.0.1:{closed_port()}"
    environment = {k: v for k, v in os.environ.items() if k.lower() != "no_proxy"}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        environment[name] = environment[name.lower()] = proxy
    return environment | {
        "UV_CACHE_DIR": str(cache),
        "UV_OFFLINE": "1",
        "UV_FIND_LINKS": str(folder),
    }


def test_the_wheelhouse_holds_what_linux_needs_and_nothing_else(
    carried: tuple[Path, Path, str],
) -> None:
    _, folder, _ = carried
    manifest = json.loads((folder / "wheelhouse.json").read_text())
    names = set(manifest["files"])
    assert {n for n in names if n.startswith("torch-")} == {
        "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
    }
    # The set-up's own packages and the build backend travel with it.
    for start in ("tomlkit-", "packaging-", "python_dotenv-", "uv_build-"):
        assert any(n.startswith(start) for n in names), start
    assert not [n for n in names if "win" in n or "macosx" in n or "aarch64" in n]
    assert manifest["platforms"] == ["linux-x86_64"]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [*names, "README.txt", "wheelhouse.json"]
    )
    note = (folder / "README.txt").read_text()
    assert f"uv run scripts/setup_env.py --wheelhouse {folder}" in note


@pytest.mark.slow
def test_a_node_without_network_installs_the_lock_from_the_wheelhouse(
    carried: tuple[Path, Path, str], tmp_path: Path
) -> None:
    project, folder, url = carried
    clone = tmp_path / "node" / "protein-folding"
    git("clone", "-q", str(project), str(clone), cwd=tmp_path)
    environment = node_environment(tmp_path / "empty-cache", folder)
    prefix = isolated()

    # The block holds: uv reaches neither PyPI nor the (shut) PyTorch index from here.
    online = {k: v for k, v in environment.items() if k not in ("UV_OFFLINE", "UV_FIND_LINKS")}
    blocked = run([*prefix, "uv", "sync", "--locked"], clone, env=online)
    assert blocked.returncode != 0
    assert "Failed to fetch" in blocked.stderr or "Failed to download" in blocked.stderr
    assert url.split("/whl")[0] in (clone / "pyproject.toml").read_text()
    shutil.rmtree(clone / ".venv", ignore_errors=True)

    done = run([*prefix, "uv", "run", "scripts/setup_env.py", "--wheelhouse", str(folder)],
               clone, env=environment)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "==> Environment ready" in done.stdout
    assert "VERDICT: USABLE on CPU" in done.stdout
    assert git("status", "--porcelain", cwd=clone) == ""  # uv.lock and the pins as committed
    torch = run([*prefix, "uv", "run", "--locked", "python", "-c",
                 "import torch; print(torch.__version__)"], clone, env=environment)  # fmt: skip
    assert torch.stdout.strip() == "2.13.0+cpu", torch.stderr
