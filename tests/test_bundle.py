"""Bundles of runs (scripts/bundle.py) in generated, set-up projects, one with NumPy only and
one with the real CPU build of PyTorch from the replica of PyTorch's indexes: a run is
bundled and verified; from the archive alone, in an empty folder with empty caches, the
commands of its REPRODUCE.md rebuild the environment with uv and with pip (from
pylock.toml) and rerun the example to the same results; a damaged archive, a swapped lock
or pylock and a run made from uncommitted changes are refused with one line each."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import TEMPLATE, Render, git, render, run
from packaging.markers import Marker
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.slow

BUNDLE = ["uv", "run", "--locked", "scripts/bundle.py"]
TRAIN = ["uv", "run", "--locked", "scripts/train_example.py"]
COMPARE = ["uv", "run", "--locked", "scripts/compare_runs.py"]
ZENODO_SCHEMA = TEMPLATE / "tests" / "data" / "zenodo-deposit-metadata.schema.json"
# PyTorch on CPU, rebuilt from the archive: the same wheel on the same machine gives the same
# numbers; on another CPU, PyTorch's kernels (chosen by instruction set and thread count) sum
# float32 in another order, and 100 Adam steps carry those last-bit differences along. The
# test runs on one machine, so it sees exact agreement, but holds the rebuild to this bound.
TORCH_CPU_REL_TOLERANCE = 1e-5


@dataclass(frozen=True)
class Bundled:
    """A project, a finished run of its example, and the bundle of that run."""

    kind: str  # numpy or torch
    project: Path
    run: Path
    archive: Path


def train(project: Path, *args: str) -> Path:
    before = set((project / "outputs" / "train_example").glob("*"))
    result = run([*TRAIN, *args], project, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    (folder,) = set((project / "outputs" / "train_example").glob("*")) - before
    return folder


def bundle(project: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], list[Path]]:
    """Run scripts/bundle.py; the archives it wrote."""
    before = set((project / "artifacts").glob("*.tar.gz"))
    result = run([*BUNDLE, *args], project, timeout=600)
    return result, sorted(set((project / "artifacts").glob("*.tar.gz")) - before)


def make_bundle(kind: str, project: Path) -> Bundled:
    folder = train(project)
    result, (archive,) = bundle(project, str(folder))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "==> Exported the lock (no extra, no dev group): pylock.toml, sbom.cdx.json" in (
        result.stdout
    )
    assert "Verified." in result.stdout
    return Bundled(kind, project, folder, archive)


@pytest.fixture(scope="module")
def numpy_bundle(numpy_project: Path) -> Bundled:
    return make_bundle("numpy", numpy_project)


@pytest.fixture(scope="module")
def torch_bundle(torch_project: Path) -> Bundled:
    return make_bundle("torch", torch_project)


def unpack(archive: Path, into: Path) -> Path:
    """The archive unpacked with tar, as a reviewer would; the bundle's folder."""
    into.mkdir(parents=True)
    result = run(["tar", "-xzf", str(archive)], into)
    assert result.returncode == 0, result.stderr
    (folder,) = into.iterdir()
    return folder


def read(path: Path) -> Any:
    return json.loads(path.read_text())


# ── What a bundle holds ──────────────────────────────────────────────────────


def test_the_bundle_holds_the_run_its_source_lock_exports_and_citation(
    numpy_bundle: Bundled, tmp_path: Path
) -> None:
    folder = unpack(numpy_bundle.archive, tmp_path / "unpacked")
    project, run_folder = numpy_bundle.project, numpy_bundle.run
    assert folder.name == f"plain-numbers-train_example-{run_folder.name}"
    # sha256sum, not the project's code, agrees with SHA256SUMS
    assert run(["sha256sum", "--check", "--quiet", "SHA256SUMS"], folder).returncode == 0
    listed = {line.split("  ", 1)[1] for line in (folder / "SHA256SUMS").read_text().splitlines()}
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert listed == on_disk - {"SHA256SUMS"}
    committed = set(git("ls-files", cwd=project).splitlines())
    assert {name.removeprefix("source/") for name in listed if name.startswith("source/")} == (
        committed
    )
    for name in ("config.json", "manifest.json", "metrics.jsonl", "results.json"):
        assert (folder / "run" / name).read_bytes() == (run_folder / name).read_bytes()
    assert (folder / "uv.lock").read_bytes() == (project / "uv.lock").read_bytes()
    record = read(folder / "bundle.json")
    assert record["commit"] == git("rev-parse", "HEAD", cwd=project).strip()
    assert record["lock"]["sha256"] == read(run_folder / "manifest.json")["lock"]["sha256"]
    assert record["exports"]["extras"] == [] and record["dirty"] is False
    # the exports name exactly the runtime packages of the lock, at the lock's versions
    locked = tomllib.loads((project / "uv.lock").read_text())["package"]
    lock = {p["name"]: p["version"] for p in locked}
    pylock = tomllib.loads((folder / "pylock.toml").read_text())["packages"]
    assert {p["name"]: p["version"] for p in pylock}.items() <= lock.items()
    assert "numpy" in {p["name"] for p in pylock} and "pytest" not in {p["name"] for p in pylock}
    sbom = read(folder / "sbom.cdx.json")
    assert (sbom["bomFormat"], sbom["specVersion"]) == ("CycloneDX", "1.5")
    assert {c["name"] for c in sbom["components"]} == {p["name"] for p in pylock}
    # Zenodo's metadata: every field as Zenodo documents it, the facts from CITATION.cff
    zenodo = read(folder / ".zenodo.json")
    jsonschema.validate(zenodo, read(ZENODO_SCHEMA))
    assert zenodo["creators"] == [{"name": "Lovelace, Ada"}]
    assert (zenodo["title"], zenodo["license"], zenodo["upload_type"]) == (
        "Plain Numbers", "MIT", "software",
    )  # fmt: skip
    # REPRODUCE.md: where the files come from, and the set-up's wheelhouse as it spells it
    reproduce = (folder / "REPRODUCE.md").read_text()
    assert "- `https://pypi.org/simple`" in reproduce
    assert record["wheelhouse"] == [
        "uv run scripts/setup_env.py wheelhouse ../wheelhouse",
        "UV_OFFLINE=1 UV_FIND_LINKS=../wheelhouse uv run scripts/setup_env.py --wheelhouse "
        "../wheelhouse",
    ]
    assert "\n".join(record["wheelhouse"]) in reproduce
    assert (folder / "CITATION.cff").read_bytes() == (project / "CITATION.cff").read_bytes()
    assert (folder / "LICENSE").is_file()


def test_compare_runs_reads_a_run_inside_a_bundle(numpy_bundle: Bundled) -> None:
    result = run([*COMPARE, str(numpy_bundle.archive), str(numpy_bundle.run)], numpy_bundle.project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Same code, environment, machine, settings and results." in result.stdout


# ── Rebuilt from the archive alone ───────────────────────────────────────────


def commands_under(reproduce: str, heading: str) -> str:
    """The bash block under `heading` in REPRODUCE.md."""
    section = reproduce.split(f"\n{heading}\n", 1)[1]
    return section.split("```bash\n", 1)[1].split("```", 1)[0]


def isolated_environment(caches: Path) -> dict[str, str]:
    """Empty uv and pip caches; pip without this machine's configuration (its find-links
    folder holds the CPU torch wheel), so that it installs only what pylock.toml names."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PIP_")}
    return {
        **env,
        "UV_CACHE_DIR": str(caches / "uv"),
        "PIP_CACHE_DIR": str(caches / "pip"),
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }


def installed(venv: Path) -> dict[str, tuple[str, str]]:
    """Each distribution in a virtual environment: its version and the tool that installed it."""
    found = {}
    for info in venv.glob("lib/python*/site-packages/*.dist-info"):
        metadata = (info / "METADATA").read_text(encoding="utf-8", errors="replace")
        name = re.search(r"^Name: (.+)$", metadata, re.MULTILINE)
        version = re.search(r"^Version: (.+)$", metadata, re.MULTILINE)
        installer = info / "INSTALLER"
        by = installer.read_text().strip() if installer.exists() else ""
        assert name and version, info
        found[canonicalize_name(name[1].strip())] = (version[1].strip(), by)
    return found


@pytest.fixture(params=["numpy", "torch"])
def bundled(request: pytest.FixtureRequest) -> Bundled:
    return request.getfixturevalue(f"{request.param}_bundle")


@pytest.mark.parametrize("route", ["uv", "pip"])
def test_the_archive_alone_rebuilds_the_environment_and_the_results(
    bundled: Bundled, route: str, tmp_path: Path
) -> None:
    folder = unpack(bundled.archive, tmp_path / "empty")
    reproduce = (folder / "REPRODUCE.md").read_text()
    commands = commands_under(reproduce, f"## Rebuild and rerun with {route}")
    result = run(
        ["bash", "-euo", "pipefail", "-c", commands], folder,
        env=isolated_environment(tmp_path / "caches"), timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, commands + result.stdout + result.stderr
    # the environment is the lock's runtime packages for this platform, installed by `route`
    pylock = tomllib.loads((folder / "pylock.toml").read_text())["packages"]
    python = read(folder / "bundle.json")["python"]  # the run's, which the rebuild uses
    here = {"python_full_version": python, "python_version": ".".join(python.split(".")[:2])}
    wanted = {
        canonicalize_name(p["name"]): p["version"]
        for p in pylock
        if "marker" not in p or Marker(p["marker"]).evaluate(here)
    }
    have = installed(folder / "source" / ".venv")
    assert {name: have[name][0] for name in wanted} == wanted
    # the project and kit/ come from the source, as the commands say
    project = {"plain-numbers", "protein-folding"}
    kits = {f"{name}-kit" for name in project}
    extra = set(have) - set(wanted) - project - kits - {"pip"}
    assert not extra, extra
    assert {have[name][1] for name in kits & set(have)} == {route}
    assert {have[name][1] for name in wanted} == {route}
    # the rerun of the example, with the run's settings, gives the run's results
    (new_run,) = (folder / "source" / "outputs" / "train_example").iterdir()
    assert read(new_run / "config.json") == read(folder / "run" / "config.json")
    before, after = read(folder / "run" / "results.json"), read(new_run / "results.json")
    if bundled.kind == "numpy":
        assert after == before
    else:
        assert after == pytest.approx(before, rel=TORCH_CPU_REL_TOLERANCE)
    compare = run([*COMPARE, str(bundled.archive), str(new_run)], bundled.project)
    assert compare.returncode in (0, 1), compare.stderr
    if bundled.kind == "numpy":
        assert not [line for line in compare.stdout.splitlines() if "result " in line]


# ── Refusals ──────────────────────────────────────────────────────────────


def resum(folder: Path) -> None:
    """SHA256SUMS written again for the files as they are now (a careful forger)."""
    lines = [
        f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.relative_to(folder).as_posix()}"
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != "SHA256SUMS"
    ]
    (folder / "SHA256SUMS").write_text("".join(f"{line}\n" for line in lines))


def change_results(folder: Path) -> None:
    results = folder / "run" / "results.json"
    results.write_text(results.read_text().replace("0.", "0.9", 1))


def swap_lock(folder: Path) -> None:
    lock = folder / "uv.lock"
    lock.write_text(re.sub(r'(name = "numpy"\nversion = ")[^"]+', r"\g<1>2.2.6", lock.read_text()))
    resum(folder)


def swap_pylock(folder: Path) -> None:
    pylock = folder / "pylock.toml"
    text = re.sub(r'(name = "numpy"\nversion = ")[^"]+', r"\g<1>2.2.6", pylock.read_text())
    pylock.write_text(text)
    resum(folder)


def add_file(folder: Path) -> None:
    (folder / "run" / "extra.txt").write_text("added later\n")


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (change_results, r"run/results\.json does not match its sha256 in SHA256SUMS"),
        (swap_lock, r"uv\.lock \(sha256 \w+…\) is not the lock the run recorded in run/manif"),
        (swap_pylock, r"pylock\.toml names numpy 2\.2\.6, which uv\.lock does not lock"),
        (add_file, r"run/extra\.txt is not in SHA256SUMS: it was added after bundling"),
    ],
)
def test_a_damaged_bundle_is_refused_naming_the_first_mismatch(
    numpy_bundle: Bundled, tmp_path: Path, damage: Callable[[Path], None], problem: str
) -> None:
    folder = unpack(numpy_bundle.archive, tmp_path / "unpacked")
    damage(folder)
    damaged = tmp_path / numpy_bundle.archive.name
    assert run(["tar", "-czf", str(damaged), folder.name], folder.parent).returncode == 0
    result = run([*BUNDLE, "--verify", str(damaged)], numpy_bundle.project)
    assert result.returncode == 2, result.stdout + result.stderr
    first, hint = result.stderr.splitlines()
    assert first.startswith(f"!!  {damaged}: ") and re.search(problem, first), first
    assert hint.startswith("    What to try: ")


@contextmanager
def uncommitted_changes(project: Path) -> Iterator[str]:
    """A line added to README.md and a new script, taken away afterwards."""
    readme = project / "README.md"
    saved = readme.read_text()
    readme.write_text(saved + "\nA note made before the run.\n")
    (project / "scripts" / "note.py").write_text('"""A note."""\n')
    try:
        yield readme.read_text()
    finally:
        readme.write_text(saved)
        (project / "scripts" / "note.py").unlink()


def test_a_run_from_uncommitted_changes_is_refused_unless_allowed_then_carries_them(
    numpy_project: Path, tmp_path: Path
) -> None:
    with uncommitted_changes(numpy_project) as changed_readme:
        folder = train(numpy_project)
        refused, written = bundle(numpy_project, str(folder))
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert refused.stderr.splitlines()[0] == (
            f"!!  Run {folder} was made from uncommitted changes (README.md, scripts/note.py): "
            f"its source is not commit {git('rev-parse', 'HEAD', cwd=numpy_project)[:12]}."
        )
        assert written == []
        allowed, (archive,) = bundle(numpy_project, "--allow-dirty", str(folder))
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    unpacked = unpack(archive, tmp_path / "unpacked")
    assert read(unpacked / "bundle.json")["dirty"] is True
    apply = commands_under_table(unpacked / "REPRODUCE.md")
    result = run(["bash", "-euo", "pipefail", "-c", apply], unpacked)
    assert result.returncode == 0, result.stderr
    assert (unpacked / "source" / "README.md").read_text() == changed_readme
    assert (unpacked / "source" / "scripts" / "note.py").read_text() == '"""A note."""\n'


def commands_under_table(reproduce: Path) -> str:
    """The command REPRODUCE.md gives for applying source.diff (`cd source && git apply`)."""
    found = re.search(r"`(cd source && git apply \.\./source\.diff)`", reproduce.read_text())
    assert found, reproduce.read_text()
    return found[1]


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda run, tmp: str(tmp), "holds no manifest.json: it is not a run's folder"),
        (lambda run, tmp: str(unfinished(run, tmp)), "has not finished (no results.json)"),
        (lambda run, tmp: f"--verify={tmp / 'junk.tar.gz'}", "cannot be read as a .tar.gz"),
    ],
)
def test_what_is_not_a_finished_run_or_a_bundle_is_refused(
    numpy_bundle: Bundled, tmp_path: Path, make: Callable[[Path, Path], str], problem: str
) -> None:
    (tmp_path / "junk.tar.gz").write_bytes(b"not an archive")
    result, written = bundle(numpy_bundle.project, make(numpy_bundle.run, tmp_path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert problem in result.stderr.splitlines()[0] and "Traceback" not in result.stderr
    assert written == []


def unfinished(folder: Path, tmp_path: Path) -> Path:
    """A copy of a run's folder as a run still going leaves it: no results.json."""
    copy = tmp_path / "outputs" / "train_example" / folder.name
    shutil.copytree(folder, copy)
    (copy / "results.json").unlink()
    manifest = read(copy / "manifest.json")
    (copy / "manifest.json").write_text(json.dumps({**manifest, "finished": None}))
    return copy


# ── Inside the project: hostile CITATION.cff files, names and archives ─────────


def locked_version(name: str) -> str:
    lock = tomllib.loads((TEMPLATE / "uv.lock").read_text())
    return next(p["version"] for p in lock["package"] if p["name"] == name)


# CITATION.cff of other answers: a name particle, an ORCID, no licence; quotes, backslashes,
# colons, hashes and letters beyond ASCII in the title, abstract and names.
CITATION_ANSWERS: dict[str, dict[str, str]] = {
    "particle": {
        "author_name": "Ludwig van Beethoven", "orcid": "0000-0002-1825-0097",
        "license": "Proprietary",
    },
    "hostile": {
        "author_name": "José Ñúñez-O'Brien", "project_name": 'Ünï "Quoted" Project: #1',
        "description": 'A "study" of back\\slashes, colons: and # hashes — ok',
    },
}  # fmt: skip


def test_bundle_properties_hold_inside_the_project(numpy_bundle: Bundled, tmp_path: Path) -> None:
    """Hypothesis, inside the project: CITATION.cff as PyYAML writes it is read as PyYAML
    reads it; Zenodo's metadata from any CITATION.cff is valid or refused; damaged bundles
    are refused (tests/in_project/bundle_properties.py). The CITATION.cff of other answers
    give Zenodo what they say."""
    citations = [
        render(tmp_path / name, skip_tasks=True, framework="none", **answers) / "CITATION.cff"
        for name, answers in CITATION_ANSWERS.items()
    ]
    pins = [f"{name}=={locked_version(name)}" for name in ("hypothesis", "pyyaml", "jsonschema")]
    script = TEMPLATE / "tests" / "in_project" / "bundle_properties.py"
    command = ["uv", "run", "--locked", *(f"--with={pin}" for pin in pins), "python", str(script)]
    arguments = [
        "plain_numbers",
        str(numpy_bundle.archive),
        str(ZENODO_SCHEMA),
        *map(str, citations),
    ]
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    environment = {**os.environ, "TMPDIR": str(scratch)}
    result = run([*command, *arguments], numpy_bundle.project, timeout=600, env=environment)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all properties hold" in result.stdout
    assert not list(scratch.glob("bundle-properties-*"))  # its scratch files are gone
    zenodo = dict(
        (line.split(": ", 1)[0].split("/")[-2], json.loads(line.split(": ", 1)[1]))
        for line in result.stdout.splitlines()
        if line.startswith("zenodo ")
    )
    assert zenodo["particle"]["creators"] == [
        {"name": "van Beethoven, Ludwig", "orcid": "0000-0002-1825-0097"}
    ]
    assert zenodo["particle"]["access_right"] == "closed" and "license" not in zenodo["particle"]
    assert zenodo["hostile"]["title"] == 'Ünï "Quoted" Project: #1'
    assert zenodo["hostile"]["creators"] == [{"name": "Ñúñez-O'Brien, José"}]
    assert zenodo["hostile"]["description"].startswith(
        "<p>A &quot;study&quot; of back\\slashes, colons: and # hashes — ok</p>"
    )


# ── The README ───────────────────────────────────────────────────────────────


@pytest.mark.parametrize("env_manager", ["uv", "pixi"])
def test_readme_says_how_to_publish_a_result(rendered: Render, env_manager: str) -> None:
    project = rendered(framework="none", env_manager=env_manager)
    readme = (project / "README.md").read_text()
    section = readme.split("## Publishing a result\n", 1)[1].split("\n## ", 1)[0]
    runner = "pixi run python" if env_manager == "pixi" else "uv run"
    assert f"{runner} scripts/bundle.py outputs/train_example/<run>" in section
    assert f"{runner} scripts/bundle.py --verify artifacts/" in section
    assert ("pylock.toml" in section) == (env_manager == "uv")
    assert "artifacts/" in (project / ".gitignore").read_text().splitlines()
