"""switchboard.vendor, the fetcher of the console's scripts, against a local server that
speaks the npm registry's protocol (a package's metadata, then its tarball)."""

from __future__ import annotations

import io
import json
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from switchboard import vendor

SCRIPT = b'var htmx=function(){return{version:"2.0.99"}}();\n'
LICENCE = b"Zero-Clause BSD\n"


def tarball(files: dict[str, bytes]) -> bytes:
    """A package's tarball as npm packs it: gzip'd tar, every file under package/."""
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w:gz") as archive:
        for name, data in files.items():
            member = tarfile.TarInfo(f"package/{name}")
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    return packed.getvalue()


GENUINE = tarball({"dist/htmx.min.js": SCRIPT, "LICENSE": LICENCE, "README.md": b"#"})
PACKAGE = vendor.Package(
    "htmx.org",
    "2.0.99",
    vendor.integrity_of(GENUINE),
    {"dist/htmx.min.js": "htmx.min.js", "LICENSE": "htmx.org.LICENSE"},
)


@dataclass
class Registry:
    """Serves htmx.org@2.0.99: its abbreviated metadata (publishing `published`, the genuine
    tarball's integrity unless a test changes it) and `served` as its tarball."""

    url: str = ""
    served: bytes = GENUINE
    published: str = PACKAGE.integrity
    requests: list[str] = field(default_factory=list)

    def metadata(self) -> dict[str, Any]:
        dist = {"integrity": self.published, "tarball": f"{self.url}htmx.org/-/x.tgz"}
        return {"name": "htmx.org", "versions": {"2.0.99": {"dist": dist}}}


@pytest.fixture
def registry() -> Iterator[Registry]:
    state = Registry()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            if self.path == "/htmx.org":
                body, kind = json.dumps(state.metadata()).encode(), "application/json"
            elif self.path == "/htmx.org/-/x.tgz":
                body, kind = state.served, "application/octet-stream"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "vendor.json"
    pinned = {"name": PACKAGE.name, "version": PACKAGE.version, "integrity": PACKAGE.integrity}
    path.write_text(json.dumps({"packages": [{**pinned, "files": dict(PACKAGE.files)}]}))
    return path


def fetch(manifest: Path, destination: Path) -> int:
    return vendor.main(["--manifest", str(manifest), "--destination", str(destination)])


def test_a_tampered_tarball_is_refused_and_nothing_is_installed(
    registry: Registry,
    manifest: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    registry.served = tarball({"dist/htmx.min.js": b"steal(document.cookie)", "LICENSE": LICENCE})
    monkeypatch.setenv("npm_config_registry", registry.url)
    destination = tmp_path / "static" / "vendor"
    destination.parent.mkdir()

    assert fetch(manifest, destination) == 1

    assert "error (integrity_mismatch)" in capsys.readouterr().err
    assert "/htmx.org/-/x.tgz" in registry.requests  # refused for its bytes, once fetched
    assert not destination.exists()
    assert list(destination.parent.iterdir()) == []  # no folder half-written either


def test_a_tampered_tarball_leaves_what_was_installed(
    registry: Registry, manifest: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("npm_config_registry", registry.url)
    destination = tmp_path / "vendor"
    assert fetch(manifest, destination) == 0
    (destination / vendor.STAMP).unlink()  # as if the pins had changed: fetched again
    registry.served = tarball({"dist/htmx.min.js": b"tampered", "LICENSE": LICENCE})

    assert fetch(manifest, destination) == 1

    assert (destination / "htmx.min.js").read_bytes() == SCRIPT


def test_the_pinned_files_are_installed_with_the_licence_then_left_alone(
    registry: Registry, manifest: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NPM_CONFIG_REGISTRY", registry.url.rstrip("/"))
    destination = tmp_path / "vendor"

    assert fetch(manifest, destination) == 0
    asked = len(registry.requests)
    assert fetch(manifest, destination) == 0  # installed: no registry asked

    assert (destination / "htmx.min.js").read_bytes() == SCRIPT
    assert (destination / "htmx.org.LICENSE").read_bytes() == LICENCE
    assert sorted(p.name for p in destination.iterdir()) == [
        "htmx.min.js",
        "htmx.org.LICENSE",
        vendor.STAMP,
    ]
    assert len(registry.requests) == asked == 2
    (destination / "htmx.min.js").write_bytes(b"changed by hand")
    assert fetch(manifest, destination) == 0  # a file changed: installed again
    assert (destination / "htmx.min.js").read_bytes() == SCRIPT


def test_a_registry_publishing_another_integrity_is_refused(
    registry: Registry, tmp_path: Path
) -> None:
    registry.published = vendor.integrity_of(b"something else")

    with pytest.raises(vendor.IntegrityMismatch, match=r"publishes htmx\.org@2\.0\.99"):
        vendor.install([PACKAGE], tmp_path / "vendor", registry=registry.url)

    assert registry.requests == ["/htmx.org"]
    assert not (tmp_path / "vendor").exists()


def test_the_registry_is_found_as_npm_finds_it(tmp_path: Path) -> None:
    project, home = tmp_path / "project", tmp_path / "home"
    project.mkdir()
    home.mkdir()
    (home / ".npmrc").write_text("; a comment\nregistry = http://user.example/\n")
    (project / ".npmrc").write_text("registry=${MIRROR}/npm\n")
    env = {"HOME": str(home), "PATH": "", "MIRROR": "http://mirror.example"}

    assert vendor.registry_url(env, project) == "http://mirror.example/npm/"
    (project / ".npmrc").unlink()
    assert vendor.registry_url(env, project) == "http://user.example/"
    with_variable = {**env, "npm_config_registry": "http://env.example"}
    assert vendor.registry_url(with_variable, project) == "http://env.example/"


def test_no_registry_anywhere_says_to_set_one(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "PATH": "", "npm_config_globalconfig": str(tmp_path / "none")}

    with pytest.raises(vendor.RegistryNotConfigured) as refused:
        vendor.registry_url(env, tmp_path)

    assert "npm_config_registry" in str(refused.value)
