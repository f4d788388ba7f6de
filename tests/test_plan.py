"""The render plan (extensions/plan.py): what each step contributes, and the order contract.

The plan is computed from typed answers by plain functions; these tests read it directly,
without Copier. The rendered files that follow from it are checked in test_render.py,
test_pixi.py, test_slurm.py, test_containers.py and test_research.py.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
from conftest import TEMPLATE
from packaging.requirements import Requirement

from extensions import accelerators, cuda, plan, torch_index
from extensions.tool_versions import PIXI, UV

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
    typed = answers(cpu_extra="false", notebooks="true", cooloff_days="7", torch_packages=["x"])
    assert (typed.cpu_extra, typed.notebooks, typed.cooloff_days) == (False, True, 7)
    assert typed.torch_packages == ("x",)


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
