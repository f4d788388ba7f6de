"""A replica of PyTorch's wheel indexes for the tests, generated from the facts file.

`extensions/pytorch_indexes.toml` says which wheels each index holds (releases, local
labels, Python/ABI/platform tags); this module writes them as flat folders
(`<root>/<index>/*.whl`) and serves them as a PEP 503 index on 127.0.0.1 (pages and core
metadata from memory, wheels from the folders), the two kinds of index the template accepts.

Every wheel written here is a STAND-IN: a few hundred bytes with the real filename, tags,
Requires-Python and Requires-Dist (tests/data/pytorch-wheel-requires.toml), so that `uv lock`
resolves and routes it as it would the real one, and whose `import` raises ImportError
naming it a stand-in. One slot is the exception: the real CPU wheel
(torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl, found by
benchmarks.fixtures.find_torch_wheel), linked in place of its stand-in, is the only wheel
of the replica that can be installed and imported.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import http.server
import io
import shutil
import threading
import tomllib
import urllib.parse
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement

from extensions import pytorch_facts
from extensions.pytorch_facts import Facts, Wheel

REQUIRES_FILE = Path(__file__).parent / "data" / "pytorch-wheel-requires.toml"
STAND_IN = "STAND-IN wheel from copier-research's replica of PyTorch's indexes"
# The same bytes for the same wheel on every run: fixed timestamps inside the zip.
_ZIP_DATE = (2026, 1, 1, 0, 0, 0)


# ── What each wheel requires ───────────────────────────────────────────────


@functools.cache
def _requires_data() -> dict[str, dict[str, dict[str, object]]]:
    with REQUIRES_FILE.open("rb") as file:
        return tomllib.load(file)


def _listed(project: str, version: str) -> list[str]:
    entry = _requires_data().get(project, {}).get(version)
    if entry is None:
        raise LookupError(f"{REQUIRES_FILE.name} has no Requires-Dist for {project} {version}")
    requires = entry["requires"]
    assert isinstance(requires, list)
    return [str(item) for item in requires]


def _is_gpu_stack(requirement: str) -> bool:
    """CUDA libraries and triton: what PyPI's (CUDA) torch requires on Linux only."""
    marker = Requirement(requirement).marker
    return marker is not None and "platform_system" in str(marker)


def requires_dist(wheel: Wheel) -> list[str]:
    """Requires-Dist of a wheel, shaped like the real one (see the data file's header)."""
    return list(_requires_dist(wheel.project, wheel.public_version, wheel.local))


@functools.cache
def _requires_dist(project: str, version: str, local: str) -> tuple[str, ...]:
    if project == "triton-rocm":
        return ()
    listed = _listed(project, version)
    if project != "torch" or local == "":  # companions; PyPI's own macOS file on the cpu index
        return tuple(listed)
    if local == "cpu":
        return tuple(r for r in listed if not _is_gpu_stack(r))
    if local.startswith("rocm"):
        triton = _requires_data()["torch"][version]["triton_rocm"]
        cpu = [r for r in listed if not _is_gpu_stack(r)]
        return (*cpu, f'triton-rocm=={triton}; platform_system == "Linux"')
    return tuple(listed)  # a CUDA build


# ── Writing wheels ─────────────────────────────────────────────────────────


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def metadata_text(wheel: Wheel) -> str:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {wheel.project}",
        f"Version: {wheel.version}",
        f"Summary: {STAND_IN} ({wheel.index} index)",
    ]
    if wheel.requires_python:
        lines.append(f"Requires-Python: {wheel.requires_python}")
    lines += [f"Requires-Dist: {requirement}" for requirement in requires_dist(wheel)]
    return "\n".join(lines) + "\n"


def import_name(project: str) -> str:
    """The module a project installs: triton-rocm installs `triton`, like the real one."""
    return {"triton-rocm": "triton"}.get(project, project.replace("-", "_"))


def stand_in_bytes(wheel: Wheel) -> bytes:
    """A minimal valid wheel (METADATA, WHEEL, RECORD) with `wheel`'s name and tags."""
    info = f"{wheel.project.replace('-', '_')}-{wheel.version}.dist-info"
    message = (
        f"{wheel.project} {wheel.version}: stand-in ({STAND_IN}; {wheel.index} index, "
        f"{wheel.python}-{wheel.abi}-{wheel.platform}). Only the real CPU wheel can be imported."
    )
    files = {
        f"{import_name(wheel.project)}/__init__.py": f"raise ImportError({message!r})\n",
        f"{info}/METADATA": metadata_text(wheel),
        f"{info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: copier-research tests (replica.py)\n"
            f"Root-Is-Purelib: false\nTag: {wheel.python}-{wheel.abi}-{wheel.platform}\n"
        ),
    }
    record = []
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            data = text.encode()
            archive.writestr(zipfile.ZipInfo(name, _ZIP_DATE), data)
            record.append(f"{name},sha256={_digest(data)},{len(data)}")
        record.append(f"{info}/RECORD,,")
        archive.writestr(zipfile.ZipInfo(f"{info}/RECORD", _ZIP_DATE), "\n".join(record) + "\n")
    return buffer.getvalue()


# ── The replica ────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Replica:
    """The flat folders of every index, `<root>/<index>/*.whl`, and what a PEP 503 page
    says of each wheel (its sha256 and core metadata), recorded while writing them."""

    root: Path
    facts: Facts
    real_wheel: Path
    sha256: dict[str, str] = field(default_factory=dict)  # by "<index>/<filename>"
    metadata: dict[str, bytes] = field(default_factory=dict)

    def folder(self, index: str) -> Path:
        return self.root / index

    def files(self, index: str) -> list[Path]:
        return sorted(self.folder(index).glob("*.whl"))


def build_flat(root: Path, real_wheel: Path, facts: Facts | None = None) -> Replica:
    """Write every wheel of the facts as `<root>/<index>/<filename>`; the real one linked."""
    facts = facts or pytorch_facts.load()
    built = Replica(root, facts, real_wheel)
    for index in facts.indexes():
        folder = root / index
        folder.mkdir(parents=True, exist_ok=True)
        for wheel in facts.wheels(index):
            key = f"{index}/{wheel.filename}"
            if index == "cpu" and wheel.filename == real_wheel.name:
                (folder / wheel.filename).symlink_to(real_wheel.resolve())
                built.sha256[key] = _sha256(real_wheel)
                built.metadata[key] = _wheel_metadata(real_wheel)
                continue
            data = stand_in_bytes(wheel)
            (folder / wheel.filename).write_bytes(data)
            built.sha256[key] = hashlib.sha256(data).hexdigest()
            built.metadata[key] = metadata_text(wheel).encode()
    if f"cpu/{real_wheel.name}" not in built.sha256:
        raise LookupError(f"the facts hold no slot for the real wheel {real_wheel.name}")
    return built


def _wheel_metadata(path: Path) -> bytes:
    with zipfile.ZipFile(path) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return archive.read(name)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ── The PEP 503 index ──────────────────────────────────────────────────────

Route = bytes | Path  # a page or metadata held in memory, or a wheel file


def simple_routes(replica: Replica) -> dict[str, Route]:
    """The replica as a PEP 503 index: URL path (`/<index>/<project>/...`) -> content.

    Like download.pytorch.org, each link carries the file's sha256 and its core metadata
    (PEP 658/714: `<wheel>.metadata`), so uv reads metadata without downloading wheels.
    """
    routes: dict[str, Route] = {}
    for index in replica.facts.indexes():
        projects = replica.facts.projects(index)
        routes[f"/{index}/"] = _page(index, [(f"{p}/", p, "") for p in projects])
        for project in projects:
            links = []
            for wheel in replica.facts.wheels(index, project):
                key = f"{index}/{wheel.filename}"
                metadata = replica.metadata[key]
                meta_hash = hashlib.sha256(metadata).hexdigest()
                href = f"{urllib.parse.quote(wheel.filename)}#sha256={replica.sha256[key]}"
                extra = f' data-dist-info-metadata="sha256={meta_hash}"'
                extra += f' data-core-metadata="sha256={meta_hash}"'
                links.append((href, wheel.filename, extra))
                routes[f"/{index}/{project}/{wheel.filename}"] = (
                    replica.folder(index) / wheel.filename
                )
                routes[f"/{index}/{project}/{wheel.filename}.metadata"] = metadata
            routes[f"/{index}/{project}/"] = _page(project, links)
    return routes


def _page(title: str, links: list[tuple[str, str, str]]) -> bytes:
    anchors = "".join(
        f'    <a href="{html.escape(href)}"{extra}>{html.escape(text)}</a><br/>\n'
        for href, text, extra in links
    )
    return (
        f"<!DOCTYPE html>\n<html>\n  <body>\n    <h1>Links for {html.escape(title)}</h1>\n"
        f"{anchors}  </body>\n</html>\n"
    ).encode()


@contextmanager
def serve(
    replica: Replica, prefix: str = "/whl", credentials: tuple[str, str] | None = None
) -> Iterator[str]:
    """Serve the replica as a PEP 503 index on 127.0.0.1 (a free port).

    Yields the base URL (`http://127.0.0.1:<port>/whl`); each index is `<base>/<index>/`.
    With `credentials`, every request must carry them (HTTP basic auth), as a lab mirror's.
    """
    routes = {prefix + path: content for path, content in simple_routes(replica).items()}
    expected = None
    if credentials is not None:
        expected = "Basic " + base64.b64encode(":".join(credentials).encode()).decode()
    handler = functools.partial(_IndexHandler, routes, expected)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{prefix}"
    finally:
        server.shutdown()
        server.server_close()


class _IndexHandler(http.server.BaseHTTPRequestHandler):
    def __init__(self, routes: dict[str, Route], expected: str | None, *args: Any) -> None:
        self.routes = routes
        self.expected = expected  # the Authorization header every request must carry
        super().__init__(*args)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)

    def _answer(self, body: bool) -> None:
        if self.expected is not None and self.headers.get("Authorization") != self.expected:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="mirror"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        if path + "/" in self.routes:  # a project page asked for without its slash
            self.send_response(301)
            self.send_header("Location", path + "/")
            self.end_headers()
            return
        content = self.routes.get(path)
        if content is None:
            self.send_error(404)
            return
        size = content.stat().st_size if isinstance(content, Path) else len(content)
        kind = "text/html" if path.endswith("/") else "application/octet-stream"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        if not body:
            return
        if isinstance(content, bytes):
            self.wfile.write(content)
        else:
            with content.open("rb") as file:
                shutil.copyfileobj(file, self.wfile)

    def log_message(self, format: str, *args: object) -> None:
        pass
