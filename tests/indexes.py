"""Local PyTorch package indexes for the tests: flat folders and a PEP 503 server on loopback.

Only the CPU torch wheel is real (from pip's find-links folder). Every other wheel made here
is a STAND-IN: a few bytes with the name, version and platform tags of a CUDA or ROCm build
(`torch-2.13.0+cu130`), enough for `uv lock` to resolve and route it, and an `import torch`
that fails loudly if one is ever installed and imported by mistake.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import http.server
import threading
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from extensions import cuda

TORCH_VERSION = "2.13.0"  # the real CPU wheel's release; stand-ins share it
TORCHVISION_VERSION = "0.28.0"
TRITON_ROCM_VERSION = "3.6.0"
STAND_IN_PLATFORMS = ("manylinux_2_28_x86_64", "win_amd64", "macosx_11_0_arm64")


@dataclass(frozen=True)
class StandIn:
    name: str
    version: str
    platforms: Sequence[str]
    requires: Sequence[str] = ()


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def write_stand_in_wheel(folder: Path, wheel: StandIn) -> Path:
    """A minimal valid wheel (METADATA, WHEEL, RECORD) tagged for `wheel.platforms`."""
    module = wheel.name.replace("-", "_")
    tags = ".".join(wheel.platforms)
    path = folder / f"{module}-{wheel.version}-py3-none-{tags}.whl"
    info = f"{module}-{wheel.version}.dist-info"
    requires = "".join(f"Requires-Dist: {item}\n" for item in wheel.requires)
    files = {
        f"{module}/__init__.py": f"raise ImportError('{wheel.name} {wheel.version}: stand-in')\n",
        f"{info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {wheel.name}\nVersion: {wheel.version}\n"
            f"Summary: STAND-IN wheel for copier-research's routing tests\n{requires}"
        ),
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: copier-research tests\n"
        "Root-Is-Purelib: false\n"
        + "".join(f"Tag: py3-none-{platform}\n" for platform in wheel.platforms),
    }
    folder.mkdir(parents=True, exist_ok=True)
    record = []
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            data = text.encode()
            archive.writestr(name, data)
            record.append(f"{name},sha256={_digest(data)},{len(data)}")
        record.append(f"{info}/RECORD,,")
        archive.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return path


def stand_ins(build: cuda.Build) -> list[StandIn]:
    """The wheels a GPU build's index holds in the tests: torch, torchvision, companions."""
    platforms = [p for p in STAND_IN_PLATFORMS if _platform_of(p) in build.platforms]
    local = f"+{build.name.replace('.', '')}"
    companions = [StandIn(name, TRITON_ROCM_VERSION, platforms[:1]) for name in build.companions]
    torch_requires = [f"{c.name}=={c.version}; platform_system == 'Linux'" for c in companions]
    return [
        StandIn("torch", TORCH_VERSION + local, platforms, torch_requires),
        StandIn("torchvision", TORCHVISION_VERSION + local, platforms, [f"torch=={TORCH_VERSION}"]),
        *companions,
    ]


def cpu_stand_ins() -> list[StandIn]:
    """What the real CPU index adds next to the real torch wheel: torchvision, macOS torch."""
    return [
        StandIn("torch", TORCH_VERSION, ["macosx_11_0_arm64"]),
        StandIn(
            "torchvision",
            TORCHVISION_VERSION + "+cpu",
            ["manylinux_2_28_x86_64"],
            [f"torch=={TORCH_VERSION}"],
        ),
        StandIn(
            "torchvision", TORCHVISION_VERSION, ["macosx_11_0_arm64"], [f"torch=={TORCH_VERSION}"]
        ),
    ]


def _platform_of(tag: str) -> str:
    return {"manylinux": "linux", "win": "win32", "macosx": "darwin"}[tag.split("_")[0]]


def build_flat_index(root: Path, torch_wheel: Path) -> Path:
    """`<root>/<build>/*.whl` for every build the template offers (see module docstring)."""
    cpu_folder = root / "cpu"
    cpu_folder.mkdir(parents=True)
    (cpu_folder / torch_wheel.name).symlink_to(torch_wheel)
    for wheel in cpu_stand_ins():
        write_stand_in_wheel(cpu_folder, wheel)
    for build in cuda.BUILDS:
        if build.is_gpu:
            for wheel in stand_ins(build):
                write_stand_in_wheel(root / build.name, wheel)
    return root


def build_simple_index(flat: Path, root: Path) -> Path:
    """The same wheels as a PEP 503 tree: `<root>/<build>/<project>/index.html` + files."""
    for build_folder in sorted(p for p in flat.iterdir() if p.is_dir()):
        projects: dict[str, list[Path]] = {}
        for wheel in sorted(build_folder.glob("*.whl")):
            project = wheel.name.split("-")[0].replace("_", "-").lower()
            projects.setdefault(project, []).append(wheel)
        for project, wheels in projects.items():
            page = root / build_folder.name / project
            page.mkdir(parents=True)
            links = []
            for wheel in wheels:
                (page / wheel.name).symlink_to(wheel.resolve())
                digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
                href = html.escape(f"{wheel.name}#sha256={digest}")
                links.append(f'<a href="{href}">{html.escape(wheel.name)}</a><br>')
            (page / "index.html").write_text(
                "<!DOCTYPE html><html><body>\n" + "\n".join(links) + "\n</body></html>\n"
            )
    return root


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve `folder` over HTTP on 127.0.0.1 (a free port); yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass
