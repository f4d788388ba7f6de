"""What a generated project costs its user after the set-up: each script's --help, its tests.

Each returns a JSON-ready dict; none asserts anything (the tests prove that --help imports
neither PyTorch, NumPy nor a tracker; this measures how long it takes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .paths import Setup, answers
from .process import timed
from .stats import summarize

# Projects whose scripts between them are every script the template writes.
HELP_VARIANTS: dict[str, dict[str, str]] = {
    "default": {},
    "slurm-mlflow": {"include_slurm": "true", "tracker": "mlflow"},
    "plain-numbers": {"framework": "none"},  # not "numpy": a project may not be its dependency
}
TARGETS = {"help_s": 0.5, "pytest_s": 10.0}


def say(message: str) -> None:
    print(message, flush=True)


def set_up(setup: Setup, destination: Path, extra: dict[str, str]) -> Path:
    """`copier copy` with its tasks (lock, sync, check), with the variant's answers."""
    if (destination / ".venv").is_dir():
        return destination
    data = [arg for key, value in extra.items() for arg in ("-d", f"{key}={value}")]
    command = [*setup.copier, "copy", "--trust", "--defaults", *answers(setup), *data]
    timed([*command, str(setup.template), str(destination)], destination.parent, setup.env,
          setup.logs / f"{destination.name}.log")  # fmt: skip
    return destination


def help_command(project: Path, script: Path) -> list[str]:
    """`uv run [--locked] scripts/<script> --help`, as a user types it (a script with its own
    dependencies, setup_env.py, has no lock of the project's to hold to)."""
    inline = "# /// script" in script.read_text().splitlines()
    return ["uv", "run", *([] if inline else ["--locked"]), f"scripts/{script.name}", "--help"]


def scripts_help(setup: Setup, folder: Path, runs: int) -> dict[str, Any]:
    """Every script's `--help` in set-up projects of each variant: one warm-up, then `runs`."""
    say("==> Each generated script's --help (uv run ... --help)")
    folder.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"target": TARGETS["help_s"], "scripts": {}}
    for variant, extra in HELP_VARIANTS.items():
        project = set_up(setup, folder / variant, extra)
        for script in sorted((project / "scripts").glob("*.py")):
            if script.name in result["scripts"]:
                continue  # the same script in an earlier variant
            command = help_command(project, script)
            log = setup.logs / f"help-{variant}-{script.stem}.log"
            timed(command, project, setup.env, log)  # warm-up
            seconds = [timed(command, project, setup.env, log).seconds for _ in range(runs)]
            result["scripts"][script.name] = {
                "variant": variant,
                "help_s": summarize(seconds).to_json(),
            }
            say(f"    {script.name} ({variant}): {summarize(seconds).median:.2f} s")
    worst = max(s["help_s"]["median"] for s in result["scripts"].values())
    return result | {"met": worst <= TARGETS["help_s"]}


def project_tests(setup: Setup, folder: Path, runs: int) -> dict[str, Any]:
    """`uv run pytest` in a new default project: its first run after the set-up (Python then
    compiles what the tests import for the first time, e.g. torch._dynamo, which PyTorch's
    optimizers import at their first step), then `runs` more. Run before `scripts_help`,
    which uses the same project."""
    say("==> The generated project's own tests (uv run pytest)")
    folder.mkdir(parents=True, exist_ok=True)
    project = set_up(setup, folder / "default", {})
    command = ["uv", "run", "--locked", "pytest", "-q", "-p", "no:cacheprovider"]
    first = timed(command, project, setup.env, setup.logs / "pytest-first.log").seconds
    say(f"    first run: {first:.2f} s")
    seconds = []
    for index in range(1, runs + 1):
        seconds.append(timed(command, project, setup.env, setup.logs / "pytest.log").seconds)
        say(f"    run {index}/{runs}: {seconds[-1]:.2f} s")
    summary = summarize(seconds)
    return {
        "first_s": round(first, 3),
        "pytest_s": summary.to_json(),
        "target": TARGETS["pytest_s"],
        "met": summary.median <= TARGETS["pytest_s"],
    }
