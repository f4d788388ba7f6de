"""Every question's help fits an 80-column terminal, and what was detected is said first.

Copier prints a question's help after a 3-column mark ("🎤 "), then the choices indented by
3 columns; a select prompt cuts a line that does not fit instead of wrapping it, so a long
help line hides its end (at 80 columns the accelerator question once lost the detection
result). The help is rendered here through copier's own Jinja environment, with the
template's extensions, for machines with and without GPUs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import TEMPLATE, set_environment
from copier._main import Worker  # what copier.run_copy drives
from copier._user_data import Question  # the class copier prompts with

from extensions import detect, text

COLUMNS = 80
MARK = 3  # "🎤 " and the choices' indentation


def questions() -> dict[str, dict[str, Any]]:
    data = yaml.safe_load((TEMPLATE / "copier.yml").read_text())
    return {k: v for k, v in data.items() if not k.startswith("_") and isinstance(v, dict)}


def columns(line: str) -> int:
    """Terminal columns of a line: 2 for wide characters (the emoji, CJK)."""
    return sum(2 if ord(char) > 0x2E80 else 1 for char in line)


# What the help says first on each kind of machine (the variables are the real overrides
# that extensions/detect.py reads; "no-gpu" is this machine's own detection: marked no_gpu).
MACHINES = {
    "no-gpu": ({"COPIER_RESEARCH_NO_GPU_DETECTION": None}, "No NVIDIA or AMD GPU detected"),
    "driver": (
        {"COPIER_RESEARCH_NO_GPU_DETECTION": None, "COPIER_RESEARCH_DRIVER_VERSION": "550.54.14"},
        "NVIDIA driver 550.54.14 set by COPIER_RESEARCH_DRIVER_VERSION",
    ),
    "detection-off": ({}, "GPU detection turned off"),
}


@pytest.fixture(
    params=[
        pytest.param(name, marks=pytest.mark.no_gpu) if name == "no-gpu" else name
        for name in MACHINES
    ]
)
def machine(request: pytest.FixtureRequest) -> Iterator[str]:
    """The machine's environment for one render; yields how the help must begin."""
    variables, opening = MACHINES[request.param]
    set_environment(**variables)
    try:
        yield opening
    finally:
        set_environment(COPIER_RESEARCH_NO_GPU_DETECTION="1", COPIER_RESEARCH_DRIVER_VERSION=None)


def rendered_help(tmp_path: Path, answers: dict[str, Any]) -> dict[str, tuple[str, list[str]]]:
    """Each question's help and choice labels as copier would print them."""
    worker = Worker(
        str(TEMPLATE), str(tmp_path / "project"), data=answers, defaults=True, unsafe=True,
        vcs_ref="HEAD", quiet=True,
    )  # fmt: skip
    result = {}
    with worker:
        context = worker._render_context()
        context.update(answers)
        for name, spec in questions().items():
            question = Question(
                var_name=name, answers=worker.answers, jinja_env=worker.jinja_env,
                context=context, **{k: v for k, v in spec.items() if k != "validator"},
            )  # fmt: skip
            labels = [choice.title for choice in question._formatted_choices]
            result[name] = (question.get_message(), labels)
    return result


ANSWERS = {
    "project_name": "Protein Folding", "package_name": "protein_folding", "framework": "pytorch",
    "env_manager": "uv", "accelerator": "rocm7.2", "python_version": "3.12",
    "torch_index_url": "https://download.pytorch.org/whl", "platforms": ["linux-x86_64"],
}  # fmt: skip


def test_every_help_line_fits_80_columns(tmp_path: Path, machine: str) -> None:
    for name, (message, labels) in rendered_help(tmp_path, ANSWERS).items():
        lines = message.rstrip().splitlines()
        assert columns(lines[0]) + MARK <= COLUMNS, (name, lines[0])
        for line in lines[1:]:
            assert columns(line) <= COLUMNS, (name, line)
        for label in labels:
            assert columns(str(label)) + MARK <= COLUMNS, (name, label)


def test_accelerator_help_says_what_was_detected_first(tmp_path: Path, machine: str) -> None:
    message, _ = rendered_help(tmp_path, ANSWERS)["accelerator"]
    assert message.startswith(machine)


@pytest.mark.no_gpu
def test_no_gpu_is_said_whole_on_the_first_line(tmp_path: Path) -> None:
    set_environment(COPIER_RESEARCH_NO_GPU_DETECTION=None)
    try:
        message, _ = rendered_help(tmp_path, ANSWERS)["accelerator"]
    finally:
        set_environment(COPIER_RESEARCH_NO_GPU_DETECTION="1")
    assert message.splitlines()[0] == "No NVIDIA or AMD GPU detected: proposing cpu."


LONG_DETECTIONS = {
    "4x-h100": detect.Probes(
        nvidia_smi="550.54.14, NVIDIA H100 80GB HBM3\n" * 4, nvidia_smi_returncode=0
    ),
    "login-node": detect.Probes(
        proc_driver_version="NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  Thu\n",
        nvidia_smi="No devices were found\n",
        nvidia_smi_returncode=6,
    ),
    "amd": detect.Probes(rocm_agents="gfx000\ngfx90a\ngfx90a\ngfx942\n"),
}


@pytest.mark.parametrize("probes", LONG_DETECTIONS.values(), ids=list(LONG_DETECTIONS))
def test_long_detection_summaries_are_wrapped(probes: detect.Probes) -> None:
    summary = detect.detect(probes).summary
    lines = text.help_lines(summary).splitlines()
    assert " ".join(lines) == " ".join(summary.split())
    assert all(columns(line) + MARK <= COLUMNS for line in lines), lines
