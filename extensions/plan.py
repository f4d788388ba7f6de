"""The render plan: every value the templates read, computed once from the answers.

Jinja only reads the plan (extensions/hooks.py puts its fields into the context under the
same names); nothing here knows about Jinja or Copier. The steps run in this order, each
reading the answers and the results of the steps above it, never a later one:

1. Project: the names, the Python pin, the platforms the lock targets (`platforms`), and
   the dependency list from `framework` and `extra_dependencies` (for uv, version bounds
   move to `constraint-dependencies`).
2. PyTorch (extensions/accelerators.py): the release line and the build; torch and its
   companions are routed, platform by platform among the targeted ones, to the build's
   index, and the release lines become constraints.
3. pixi (extensions/pixi.py), for `env_manager: pixi` only: pixi takes over PyTorch's
   routing, platform by platform, from the plan of step 2. The uv side is then withdrawn:
   `torch_plan` becomes None (no `[tool.uv]` index tables), the constraints are dropped
   (pixi reads no `[tool.uv]`), and the dependency list is the one pixi must see.
4. Installation: CI, SLURM, containers (extensions/ci.py, slurm.py, containers.py) read the
   uv-side plan as written after step 3, for the GPU extra to install when the lock holds
   two builds.
5. Research workflow (extensions/research.py): run and tracker dependencies, notebook
   tools, devcontainer, audit; it adds to the lists of steps 1-3 (a user's own entry wins).
6. Metadata: ORCID, citation names, license text, the guide's ignored checks. These read
   answers only.
7. The dependency lists are sorted, the way the generated pyproject lists them.
"""

from __future__ import annotations

import dataclasses
import datetime
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from . import (
    accelerators,
    ci,
    citation,
    compat,
    containers,
    cuda,
    guide_checks,
    licenses,
    naming,
    orcid,
    pixi,
    platforms,
    pytorch_facts,
    requirements,
    research,
    slurm,
    text,
    torch_index,
    wheel_folder,
)
from .tool_versions import PRE_COMMIT_HOOKS, UV

# The choice answers whose values no module owns; the others are typed where they are used
# (requirements.Framework, licenses.License, ci.CiProvider, containers.Container,
# pixi.TorchSource, research.TrackerName). copier.yml's choices are these (a test checks).
EnvManager = Literal["uv", "pixi"]
TorchPackage = Literal["torchvision", "torchaudio"]  # torch_releases.COMPANIONS


class AnswerError(ValueError):
    """An answer the plan cannot take: a value outside its question's choices."""


def _flag(value: object) -> bool:
    """A yes/no answer as Copier passes it (a bool, or its text when given with `-d`)."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "y", "1", "on")
    return bool(value)


def _typed(name: str, value: Any, kind: Any) -> Any:
    """`value`, as Copier passes the answer `name`, converted to the field's type `kind`."""
    if kind is bool:
        return _flag(value)
    if kind is int:
        try:
            return int(str(value))
        except ValueError:
            raise AnswerError(f"Answer {name}={value!r} is not a whole number.") from None
    if typing.get_origin(kind) is tuple:  # a multiselect; one value may come bare
        element = typing.get_args(kind)[0]
        items = [value] if isinstance(value, str) else value
        return tuple(_typed(name, item, element) for item in items)
    if typing.get_origin(kind) is Literal and value not in typing.get_args(kind):
        choices = ", ".join(map(str, typing.get_args(kind)))
        raise AnswerError(f"Answer {name}={value!r} is not one of the choices: {choices}.")
    return value


@dataclass(frozen=True)
class Answers:
    """The answers the plan reads, typed. A question not asked has its default here."""

    project_name: str
    package_name: str
    description: str
    author_name: str
    license: licenses.License
    framework: requirements.Framework
    env_manager: EnvManager
    python_version: str
    extra_dependencies: str
    ci_provider: ci.CiProvider
    accelerator: str = "cpu"  # a name of cuda.BUILDS
    torch_index_url: str = torch_index.DEFAULT_TORCH_INDEX_URL
    platforms: tuple[str, ...] = platforms.NAMES  # names of pytorch_facts.PLATFORMS
    torch_packages: tuple[TorchPackage, ...] = ()
    cpu_extra: bool = False
    torch_version: str = accelerators.NEWEST
    pixi_torch_source: pixi.TorchSource = pixi.CONDA_FORGE
    compilers: bool = False
    include_slurm: bool = False
    slurm_partition: str = ""
    slurm_account: str = ""
    container: containers.Container = "none"
    orcid: str = ""
    notebooks: bool = False
    tracker: research.TrackerName = "none"
    devcontainer: bool = False
    scheduled_upgrades: bool = False
    vulnerability_audit: bool = False
    cooloff_days: int = 0

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> Answers:
        """The answers out of a Copier render context (which holds much else besides).

        A choice answer outside its choices raises AnswerError, naming the answer.
        """
        kinds = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        for item in dataclasses.fields(cls):
            value = context.get(item.name)
            if value is None or (value == "" and item.default is not dataclasses.MISSING):
                continue  # not asked (or empty): the field's default
            values[item.name] = _typed(item.name, value, kinds[item.name])
        answers = cls(**values)
        # The choices of these two come from tables (the builds, the platforms).
        if answers.accelerator not in cuda.BUILDS_BY_NAME:
            choices = ", ".join(cuda.BUILDS_BY_NAME)
            raise AnswerError(
                f"Answer accelerator={answers.accelerator!r} is not one of the choices: {choices}."
            )
        if unknown := [name for name in answers.platforms if name not in platforms.NAMES]:
            choices = ", ".join(platforms.NAMES)
            raise AnswerError(f"Answer platforms={unknown!r} names none of: {choices}.")
        return answers

    @property
    def uses_torch(self) -> bool:
        return self.framework == "pytorch"

    @property
    def build(self) -> cuda.Build:
        """The PyTorch build the project installs (CPU for a project without PyTorch)."""
        return cuda.BUILDS_BY_NAME[self.accelerator if self.uses_torch else "cpu"]


@dataclass(frozen=True)
class Plan:
    """Every value the templates read besides the answers; field names are context names."""

    # 1. Project
    requires_python: str
    distribution_name: str
    kit_distribution: str  # kit/'s package: the project's name + "-kit"
    module_name: str | None  # uv_build's module-name, when the package name is not the default
    python_characters: list[str]
    uses_torch: bool
    all_platforms: tuple[pytorch_facts.Platform, ...]  # the table, for the generated copy
    target_platforms: tuple[pytorch_facts.Platform, ...]  # the `platforms` answer, in order
    target_environments: list[str]  # their markers
    platforms_update: str  # the command that changes them later (an example)
    cuda_builds: tuple[cuda.Build, ...]
    uv_required_version: str
    uv_build_requirement: str
    # 2-3. PyTorch and pixi
    torch_plan: torch_index.TorchPlan | None  # the uv-side routing as written; None for pixi
    torch_folder: str | None  # the local wheel folder PyTorch comes from, if it is one
    torch_build: cuda.Build | None
    torch_build_platforms: str | None  # the targeted platforms the build serves, in words
    torch_cpu_platforms: str | None  # those that take the CPU build instead ("" for none)
    recipe_markers: dict[str, str]  # README: the marker each package built on PyTorch takes
    pixi: pixi.PixiPlan | None
    # 4. Installation
    ci: ci.Commands
    ci_runner: str  # the GitHub runner CI installs the lock on (one of the platforms)
    actions: dict[str, str]
    pre_commit_hooks: str
    slurm: slurm.SlurmPlan | None
    container_plan: containers.ContainerPlan | None
    # 5. Research workflow
    tracker_plan: research.Tracker
    mypy_skip: list[str]
    cooloff: str | None
    cooloff_exempt: list[str]
    devcontainer_plan: research.DevcontainerPlan | None
    sweep_example: str
    scheduled_upgrade: bool
    audit: research.AuditPlan | None
    # 6. Metadata
    orcid_url: str
    citation_names: dict[str, str]
    license_text: str
    repo_review_ignores: dict[str, str]
    # 7. The dependency lists, sorted
    dependencies: list[str]
    dev_dependencies: list[str]
    dependency_constraints: list[str]

    def context(self) -> dict[str, Any]:
        """The fields by name, as the templates read them (not copied: they are frozen)."""
        return {item.name: getattr(self, item.name) for item in dataclasses.fields(self)}


def make_plan(answers: Answers, today: datetime.date | None = None) -> Plan:
    """The plan for these answers, step by step in the order the module docstring gives.

    Each step computes its own fields of the Plan (tests/test_plan.py checks the order).
    """
    # 1. Project
    requires_python = compat.requires_python(answers.python_version)
    distribution_name = naming.distribution_name(answers.project_name)
    kit_distribution = naming.kit_distribution(answers.project_name)
    # uv_build looks for src/<distribution name with _>/ unless told the module's name.
    default_module = naming.default_module_name(answers.project_name)
    module_name = answers.package_name if answers.package_name != default_module else None
    python_characters = text.python_characters(answers.project_name, answers.description)
    uses_torch = answers.uses_torch
    all_platforms = pytorch_facts.PLATFORMS
    target_platforms = tuple(p for p in pytorch_facts.PLATFORMS if p.name in answers.platforms)
    target_environments = [p.marker for p in target_platforms]
    platforms_update = platforms.update_command(platforms.example_change(answers.platforms))
    cuda_builds = cuda.BUILDS
    uv_required_version = UV.required_version
    uv_build_requirement = UV.build_backend
    dependencies = requirements.project_dependencies(answers.framework, answers.extra_dependencies)
    constraints: list[str] = []
    if answers.env_manager != "pixi":  # pixi reads no [tool.uv]; pixi.lock pins
        dependencies, constraints = requirements.bounds_apart(dependencies)
    dev_dependencies = list(requirements.DEV_DEPENDENCIES)

    # 2. PyTorch
    torch = None
    if answers.uses_torch:
        torch = accelerators.torch_step(
            accelerator=answers.accelerator,
            torch_packages=list(answers.torch_packages),
            python_version=answers.python_version,
            cpu_extra=answers.cpu_extra,
            torch_version=answers.torch_version,
            torch_index_url=answers.torch_index_url,
            platforms=[p.name for p in target_platforms],
            dependencies=dependencies,
            constraints=constraints,
        )
        dependencies, constraints = torch.dependencies, torch.constraints
    torch_plan = torch.plan if torch else None
    folder = wheel_folder.local_folder(answers.torch_index_url)
    torch_folder = str(folder) if answers.uses_torch and folder is not None else None
    torch_build = torch.build if torch else None
    torch_build_platforms = torch.build_platforms if torch else None
    torch_cpu_platforms = torch.cpu_platforms if torch else None
    recipe_markers = torch_index.recipe_markers([p.name for p in target_platforms])

    # 3. pixi takes over PyTorch's routing: the uv side is withdrawn.
    pixi_plan = None
    if answers.env_manager == "pixi":
        pixi_plan, dependencies = pixi.pixi_step(
            python_version=answers.python_version,
            framework=answers.framework,
            accelerator=answers.accelerator if answers.uses_torch else "cpu",
            dependencies=dependencies,
            torch_plan=torch_plan,
            torch_version=answers.torch_version,
            torch_source=answers.pixi_torch_source,
            compilers=answers.compilers,
            index_url=answers.torch_index_url,
            target_platforms=tuple(p.name for p in target_platforms),
        )
        torch_plan, constraints = None, []

    # 4. Installation, from the uv-side plan as written
    ci_commands = ci.ci_commands(answers.env_manager, torch_plan)
    ci_runner = ci.github_runner([p.name for p in target_platforms])
    actions = ci.ACTIONS
    pre_commit_hooks = PRE_COMMIT_HOOKS
    slurm_plan = None
    if answers.uses_torch and answers.include_slurm:
        slurm_plan = slurm.slurm_plan(
            partition=answers.slurm_partition,
            account=answers.slurm_account,
            build=answers.build,
            env_manager=answers.env_manager,
            torch_plan=torch_plan,
        )
    container_plan = containers.container_plan(answers.container, answers.build, torch_plan)

    # 5. Research workflow
    workflow = research.research_plan(
        dependencies=dependencies,
        dev_dependencies=dev_dependencies,
        framework=answers.framework,
        env_manager=answers.env_manager,
        ci_provider=answers.ci_provider,
        build=answers.build,
        torch_plan=torch_plan,
        tracker=answers.tracker,
        notebooks=answers.notebooks,
        devcontainer=answers.devcontainer,
        scheduled_upgrades=answers.scheduled_upgrades,
        vulnerability_audit=answers.vulnerability_audit,
        cooloff_days=answers.cooloff_days,
    )
    dependencies, dev_dependencies = workflow.dependencies, workflow.dev_dependencies

    # 6. Metadata
    year = (today or datetime.date.today()).year
    orcid_url = orcid.orcid_url(answers.orcid)
    citation_names = citation.person_names(answers.author_name)
    license_text = licenses.license_text(answers.license, answers.author_name, year)
    repo_review_ignores = guide_checks.ignored_checks(answers.env_manager, answers.ci_provider)

    # 7. The dependency lists, sorted; every project depends on its kit/ (<project>-kit)
    dependencies = requirements.sorted_requirements([*dependencies, kit_distribution])
    dev_dependencies = requirements.sorted_requirements(dev_dependencies)
    dependency_constraints = requirements.sorted_requirements(constraints)

    return Plan(
        requires_python=requires_python,
        distribution_name=distribution_name,
        kit_distribution=kit_distribution,
        module_name=module_name,
        python_characters=python_characters,
        uses_torch=uses_torch,
        all_platforms=all_platforms,
        target_platforms=target_platforms,
        target_environments=target_environments,
        platforms_update=platforms_update,
        cuda_builds=cuda_builds,
        uv_required_version=uv_required_version,
        uv_build_requirement=uv_build_requirement,
        torch_plan=torch_plan,
        torch_folder=torch_folder,
        torch_build=torch_build,
        torch_build_platforms=torch_build_platforms,
        torch_cpu_platforms=torch_cpu_platforms,
        recipe_markers=recipe_markers,
        pixi=pixi_plan,
        ci=ci_commands,
        ci_runner=ci_runner,
        actions=actions,
        pre_commit_hooks=pre_commit_hooks,
        slurm=slurm_plan,
        container_plan=container_plan,
        tracker_plan=workflow.tracker_plan,
        mypy_skip=workflow.mypy_skip,
        cooloff=workflow.cooloff,
        cooloff_exempt=workflow.cooloff_exempt,
        devcontainer_plan=workflow.devcontainer_plan,
        sweep_example=workflow.sweep_example,
        scheduled_upgrade=workflow.scheduled_upgrade,
        audit=workflow.audit,
        orcid_url=orcid_url,
        citation_names=citation_names,
        license_text=license_text,
        repo_review_ignores=repo_review_ignores,
        dependencies=dependencies,
        dev_dependencies=dev_dependencies,
        dependency_constraints=dependency_constraints,
    )
