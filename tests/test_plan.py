"""The render plan (extensions/plan.py): what each step contributes, and the order contract.

The plan is computed from typed answers by plain functions; these tests read it directly,
without Copier. The rendered files that follow from it are checked in test_render.py,
test_pixi.py, test_slurm.py, test_containers.py and test_research.py.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import typing
from typing import Any, Literal

import pytest
import yaml
from conftest import TEMPLATE
from packaging.requirements import Requirement

from extensions import accelerators, cuda, plan, torch_index
from extensions.requirements import BASE_DEPENDENCIES
from extensions.research import TRACKERS
from extensions.tool_versions import PIXI, UV
from extensions.torch_releases import COMPANIONS

GPU_BUILD = next(build for build in reversed(cuda.BUILDS) if build.cuda is not None)


def answers(**changes: Any) -> plan.Answers:
    base = {
        "project_name": "Protein Folding",
        "package_name": "protein_folding",
        "description": "Folds proteins.",
        "author_name": "Ada Lovelace",
        "license": "MIT",
        "framework": "pytorch",
        "env_manager": "uv",
        "python_version": "3.12",
        "extra_dependencies": "numpy>=2",
        "ci_provider": "github",
        "accelerator": GPU_BUILD.name,
    }
    return plan.Answers.from_context({**base, **changes})


def names(requirements: list[str]) -> set[str]:
    return {Requirement(item).name for item in requirements}


# ── Answers ────────────────────────────────────────────────────────────────


def test_questions_not_asked_take_their_defaults() -> None:
    typed = answers(framework="none", accelerator=None, torch_version="", slurm_partition=None)
    assert typed.accelerator == "cpu" and typed.torch_version == accelerators.NEWEST
    assert typed.build == cuda.BUILDS_BY_NAME["cpu"]


def test_answers_given_as_text_are_typed() -> None:
    typed = answers(
        cpu_extra="false", notebooks="true", cooloff_days="7", torch_packages=["torchvision"]
    )
    assert (typed.cpu_extra, typed.notebooks, typed.cooloff_days) == (False, True, 7)
    assert typed.torch_packages == ("torchvision",)


@pytest.mark.parametrize(
    ("answer", "value"),
    [
        ("framework", "tensorflow"),
        ("env_manager", "conda"),
        ("license", "WTFPL"),
        ("ci_provider", "jenkins"),
        ("container", "podman"),
        ("tracker", "neptune"),
        ("pixi_torch_source", "anaconda"),
        ("torch_packages", ["torchvision", "torchtext"]),
        ("accelerator", "cu999"),
        ("platforms", ["linux-x86_64", "amiga-m68k"]),
        ("cooloff_days", "a week"),
    ],
)
def test_an_answer_outside_its_choices_is_named(answer: str, value: object) -> None:
    with pytest.raises(plan.AnswerError, match=rf"^Answer {answer}="):
        answers(**{answer: value})


def choice_values(question: dict[str, Any]) -> list[object]:
    choices = question["choices"]
    return list(choices.values() if isinstance(choices, dict) else choices)


def test_every_choice_question_has_its_choices_as_a_type() -> None:
    """copier.yml's choices and the plan's answer types are the same values, in order."""
    questions = yaml.safe_load((TEMPLATE / "copier.yml").read_text())
    kinds = typing.get_type_hints(plan.Answers)
    fixed = {
        name: question
        for name, question in questions.items()
        if isinstance(question, dict) and isinstance(question.get("choices"), dict | list)
    }
    assert {"framework", "license", "tracker", "torch_packages"} <= fixed.keys()
    for name, question in fixed.items():
        kind = kinds[name]
        if typing.get_origin(kind) is tuple:  # a multiselect
            kind = typing.get_args(kind)[0]
        assert typing.get_origin(kind) is Literal, name
        assert list(typing.get_args(kind)) == choice_values(question), name


def test_the_answer_types_are_the_owners_tables() -> None:
    kinds = typing.get_type_hints(plan.Answers)
    assert typing.get_args(typing.get_args(kinds["torch_packages"])[0]) == COMPANIONS
    assert list(typing.get_args(kinds["tracker"])) == list(TRACKERS)
    assert typing.get_args(kinds["framework"]) == tuple(BASE_DEPENDENCIES)


def test_each_value_is_computed_in_its_step() -> None:
    """make_plan computes each Plan field in the step the Plan's field comments (and the
    module docstring) give it, and the Plan is only assembled from those values."""
    source = inspect.getsource(plan)
    lines = source.splitlines()

    def step_at(line: int, first: int) -> tuple[int, int]:
        """The `# N.` or `# N-M.` comment above 1-based `line`, not above `first`."""
        for number in range(line - 1, first - 1, -1):
            found = re.match(r"\s*# (\d)(?:-(\d))?\. ", lines[number - 1])
            if found:
                low = int(found[1])
                return low, int(found[2] or low)
        raise AssertionError(f"no step above line {line}")

    tree = ast.parse(source)
    plan_class = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Plan")
    field_steps = {
        node.target.id: step_at(node.lineno, plan_class.lineno)
        for node in plan_class.body
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
    }
    function = next(
        n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "make_plan"
    )
    assigned: dict[str, int] = {}  # each local's last assignment
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            assigned[node.id] = max(assigned.get(node.id, 0), node.lineno)
    made = next(
        n.value
        for n in function.body
        if isinstance(n, ast.Return) and isinstance(n.value, ast.Call)
    )
    assert [keyword.arg for keyword in made.keywords] == list(field_steps)
    for keyword in made.keywords:
        value = keyword.value
        local = value.value if isinstance(value, ast.Attribute) else value
        assert isinstance(local, ast.Name), f"{keyword.arg} is computed outside the steps"
        low, high = field_steps[str(keyword.arg)]
        step, _ = step_at(assigned[local.id], function.lineno)
        assert low <= step <= high, f"{keyword.arg} is computed in step {step}, not {low}"


# ── Steps ──────────────────────────────────────────────────────────────────


def test_uv_project_routes_torch_and_constrains_its_line() -> None:
    made = plan.make_plan(answers())
    assert made.torch_plan is not None and made.pixi is None
    assert "torch" in made.torch_plan.sources
    assert set(made.torch_plan.constraints) <= set(made.dependency_constraints)
    assert "numpy>=2" in made.dependency_constraints  # bounds move to constraints for uv


def test_pixi_takes_over_routing_and_the_uv_side_is_withdrawn() -> None:
    """Step 3 overrides step 2 on purpose: pixi routes PyTorch, uv writes nothing of it."""
    made = plan.make_plan(answers(env_manager="pixi"))
    assert made.pixi is not None
    assert made.torch_plan is None and made.dependency_constraints == []
    assert made.torch_build == GPU_BUILD  # the build itself is still the answer's


def test_pixi_is_planned_from_the_pytorch_step() -> None:
    """With torch from PyTorch's indexes, pixi holds it to the line step 2 chose."""
    uv_side = plan.make_plan(answers()).torch_plan
    assert uv_side is not None
    made = plan.make_plan(answers(env_manager="pixi", pixi_torch_source="pypi"))
    assert f"torch=={uv_side.line}.*" in made.dependencies


def test_conda_forge_torch_leaves_the_pypi_dependencies() -> None:
    made = plan.make_plan(answers(env_manager="pixi", pixi_torch_source="conda-forge"))
    assert "torch" not in names(made.dependencies)
    assert made.pixi is not None and "pytorch" in made.pixi.conda


@pytest.mark.parametrize("env_manager", ["uv", "pixi"])
def test_installation_reads_the_routing_as_written(env_manager: str) -> None:
    """CI, SLURM and the recipes see the plan after pixi's step: no uv extras for pixi."""
    made = plan.make_plan(
        answers(env_manager=env_manager, cpu_extra=True, include_slurm=True, container="docker")
    )
    assert made.slurm is not None and made.container_plan is not None
    if env_manager == "uv":
        gpu_extra = f"--extra {torch_index.torch_releases.extra_name(GPU_BUILD.name)}"
        assert made.ci.install.endswith("--extra cpu")
        assert made.slurm.install.endswith(gpu_extra)
        assert made.container_plan.sync_options.strip() == gpu_extra
    else:
        assert made.slurm.install == "pixi install --frozen"
        assert made.ci.install == "pixi install --locked"
        assert made.container_plan.sync_options == ""


def test_research_adds_to_what_pixi_left() -> None:
    made = plan.make_plan(answers(env_manager="pixi", tracker="wandb"))
    assert {"pydantic-settings", "wandb"} <= names(made.dependencies)
    assert "torch" not in names(made.dependencies)


def test_a_users_own_entry_wins_over_a_research_dependency() -> None:
    made = plan.make_plan(answers(extra_dependencies="wandb==0.19.0", tracker="wandb"))
    assert [item for item in made.dependencies if item.startswith("wandb")] == ["wandb"]
    assert "wandb==0.19.0" in made.dependency_constraints


def test_dependency_lists_come_out_sorted() -> None:
    made = plan.make_plan(answers(extra_dependencies="zarr, attrs", notebooks=True))
    for listed in (made.dependencies, made.dev_dependencies, made.dependency_constraints):
        keys = [Requirement(item).name.lower() for item in listed]
        assert keys == sorted(keys)


def test_uv_versions_come_from_the_tools_table() -> None:
    made = plan.make_plan(answers(container="docker", devcontainer=True))
    assert made.uv_build_requirement == UV.build_backend
    assert made.uv_required_version == UV.required_version
    assert made.container_plan is not None and made.container_plan.uv_image == UV.image
    assert made.devcontainer_plan is not None and made.devcontainer_plan.uv_image == UV.image


def test_the_uv_table_bounds_the_build_backend_to_one_minor() -> None:
    release = type(UV)("0.13")
    assert release.build_backend == "uv_build>=0.13,<0.14"
    assert release.required_version == ">=0.13"
    assert release.debian_image == "ghcr.io/astral-sh/uv:0.13-trixie-slim"


# ── The plan and the templates ─────────────────────────────────────────────


def template_text() -> str:
    files = [p for p in (TEMPLATE / "template").rglob("*") if p.is_file()]
    return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in files)


def test_every_plan_value_is_read_by_a_template() -> None:
    """No value is computed for nothing (the adapter passes each one under its name)."""
    text = template_text()
    unread = [
        field.name
        for field in dataclasses.fields(plan.Plan)
        if not re.search(rf"\b{field.name}\b", text)
    ]
    assert unread == []


def test_the_context_holds_every_field_by_name() -> None:
    made = plan.make_plan(answers())
    context = made.context()
    assert list(context) == [field.name for field in dataclasses.fields(plan.Plan)]
    assert context["torch_plan"] is made.torch_plan


def test_pixi_versions_come_from_the_tools_table() -> None:
    made = plan.make_plan(answers(env_manager="pixi", ci_provider="gitlab"))
    assert made.pixi is not None and made.pixi.requires_pixi == PIXI.required
    assert made.ci.image == PIXI.image
