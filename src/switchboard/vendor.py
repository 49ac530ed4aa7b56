"""Install the console's front-end dependencies: `python -m switchboard.vendor` (`make setup`).

console/vendor.json pins each npm package (htmx and its SSE extension) by version and by its
published integrity (sha512). Each tarball is fetched from the npm registry as npm itself
would find it (`registry_url`), checked against its pin, and only the files the manifest
names (the minified script, the licence) are copied into console/static/vendor/, which is
never committed. No Node is needed: the registry serves plain tarballs, read here with the
standard library alone, so this runs before, and without, anything else being installed.

All or nothing: every tarball is fetched and checked before anything is written, the files
are written into a new folder beside the old one and swapped in by renaming, so a failure
(a wrong hash, the network) leaves what was installed before, or nothing. Run again with the
same pins and intact files, it does nothing and asks no registry (installed.json records what
was installed, with each file's sha256), so `make setup` works offline once it has run.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from switchboard.errors import SwitchboardError

CONSOLE = Path(__file__).resolve().parent / "console"
MANIFEST = CONSOLE / "vendor.json"
DESTINATION = CONSOLE / "static" / "vendor"
STAMP = "installed.json"
TIMEOUT_SECONDS = 60
# npm's abbreviated metadata: a package's versions with their dist fields, without readmes.
_METADATA = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8"
_SET_REGISTRY = "set npm_config_registry to the npm registry's URL (or a mirror of it)"


class VendorFetchFailed(SwitchboardError):
    """A front-end dependency could not be fetched or installed; nothing was changed."""

    code = "vendor_fetch_failed"


class RegistryNotConfigured(VendorFetchFailed):
    code = "npm_registry_not_configured"


class IntegrityMismatch(VendorFetchFailed):
    """A tarball, or the integrity a registry publishes for it, is not the one pinned."""

    code = "integrity_mismatch"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    integrity: str  # "sha512-<base64>", as npm publishes it
    files: Mapping[str, str]  # path inside the tarball's package/ -> name installed

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"


def load_manifest(path: Path = MANIFEST) -> list[Package]:
    document = json.loads(path.read_text(encoding="utf-8"))
    packages = [
        Package(p["name"], p["version"], p["integrity"], dict(p["files"]))
        for p in document["packages"]
    ]
    for package in packages:
        if not package.integrity.startswith("sha512-"):
            raise VendorFetchFailed(f"{path}: {package.spec} must pin a sha512 integrity")
    return packages


# --- where the registry is ----------------------------------------------------------------


def registry_url(env: Mapping[str, str] | None = None, project: Path | None = None) -> str:
    """The registry npm would use: the npm_config_registry environment variable (any case),
    else `registry=` in the project's, the user's, then the global .npmrc, else what
    `npm config get registry` says where npm is installed. Never a name of our own."""
    env = os.environ if env is None else env
    for key in ("npm_config_registry", "NPM_CONFIG_REGISTRY"):
        if env.get(key, "").strip():
            return _with_slash(env[key].strip())
    for npmrc in _npmrc_files(env, project or Path.cwd()):
        found = _registry_in(npmrc, env)
        if found:
            return _with_slash(found)
    npm = shutil.which("npm", path=env.get("PATH"))
    if npm is not None:
        try:
            answer = subprocess.run(  # noqa: S603 - npm, found on PATH, with our arguments
                [npm, "config", "get", "registry"],
                capture_output=True,
                text=True,
                timeout=TIMEOUT_SECONDS,
                check=True,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise RegistryNotConfigured(
                f"`npm config get registry` failed: {exc}", hint=_SET_REGISTRY
            ) from exc
        found = answer.stdout.strip()
        if found.startswith(("http://", "https://")):
            return _with_slash(found)
    raise RegistryNotConfigured(
        "no npm registry is configured: not in npm_config_registry, in an .npmrc, "
        "nor from npm (not installed)",
        hint=_SET_REGISTRY + ", e.g. in the environment of `make setup`",
    )


def _npmrc_files(env: Mapping[str, str], project: Path) -> list[Path]:
    """The project's, the user's and the global .npmrc, in npm's order of precedence."""
    user = env.get("npm_config_userconfig") or env.get("NPM_CONFIG_USERCONFIG")
    home = env.get("HOME")
    files = [project / ".npmrc"]
    if user:
        files.append(Path(user))
    elif home:
        files.append(Path(home) / ".npmrc")
    configured = env.get("npm_config_globalconfig") or env.get("NPM_CONFIG_GLOBALCONFIG")
    if configured:
        return [*files, Path(configured)]
    # npm's global file is PREFIX/etc/npmrc, PREFIX being above the node binary's folder.
    prefixes = [env.get("npm_config_prefix") or env.get("NPM_CONFIG_PREFIX") or ""]
    node = shutil.which("node", path=env.get("PATH"))
    if node is not None:
        prefixes.append(str(Path(node).resolve().parent.parent))
    files += [Path(prefix) / "etc" / "npmrc" for prefix in prefixes if prefix]
    files.append(Path("/etc/npmrc"))
    return files


def _registry_in(npmrc: Path, env: Mapping[str, str]) -> str | None:
    try:
        text = npmrc.read_text(encoding="utf-8")
    except OSError:
        return None
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if not sep or key.strip() != "registry":
            continue
        value = value.strip().strip("\"'")
        # npm expands ${VAR} in .npmrc values.
        return re.sub(r"\$\{([^}]+)\}", lambda m: env.get(m.group(1), ""), value) or None
    return None


def _with_slash(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise RegistryNotConfigured(f"the npm registry {url!r} is not an http(s) URL")
    return url if url.endswith("/") else url + "/"


# --- fetching and checking ------------------------------------------------------------------


def _get(url: str, *, accept: str | None = None) -> bytes:
    # http(s) only: the registry's URL is checked in _with_slash, a tarball's in tarball_url.
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
            body: bytes = answer.read()
            return body
    except urllib.error.HTTPError as exc:
        raise VendorFetchFailed(f"GET {url} answered {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise VendorFetchFailed(
            f"GET {url} failed: {exc}",
            hint="check the network, or point npm_config_registry at a mirror "
            "(docs/operations.md, offline installs)",
        ) from exc


def tarball_url(registry: str, package: Package) -> str:
    """Where the registry says `package`'s tarball is, once its published integrity is
    checked against the pin (a registry, or mirror, publishing another one is refused)."""
    metadata_url = registry + urllib.parse.quote(package.name, safe="@")
    try:
        metadata = json.loads(_get(metadata_url, accept=_METADATA))
        dist: dict[str, Any] = metadata["versions"][package.version]["dist"]
    except (ValueError, KeyError, TypeError) as exc:
        raise VendorFetchFailed(f"{metadata_url} does not list {package.spec}") from exc
    published = dist.get("integrity")
    if published != package.integrity:
        raise IntegrityMismatch(
            f"{metadata_url} publishes {package.spec} with integrity {published}, "
            f"but vendor.json pins {package.integrity}",
            hint="a mirror serving other bytes under this version is refused; to change the "
            "pin, read it with `npm view NAME@VERSION dist.integrity`",
        )
    url = dist.get("tarball")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise VendorFetchFailed(f"{metadata_url} gives {package.spec} no tarball URL")
    return url


def integrity_of(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def checked_files(package: Package, tarball: bytes, url: str) -> dict[str, bytes]:
    """The files `package` installs, from its tarball, once the tarball matches its pin."""
    actual = integrity_of(tarball)
    if actual != package.integrity:
        raise IntegrityMismatch(
            f"the tarball of {package.spec} from {url} has integrity {actual}, "
            f"but vendor.json pins {package.integrity}; nothing was installed",
        )
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for member_path, installed_as in package.files.items():
            try:
                member = archive.getmember(f"package/{member_path}")
            except KeyError as exc:
                raise VendorFetchFailed(f"{package.spec} has no {member_path}") from exc
            extracted = archive.extractfile(member) if member.isfile() else None
            if extracted is None:
                raise VendorFetchFailed(f"{package.spec}: {member_path} is not a file")
            files[installed_as] = extracted.read()
    return files


# --- installing -----------------------------------------------------------------------------


def _stamp(packages: list[Package], files: Mapping[str, bytes]) -> dict[str, Any]:
    return {
        "packages": [
            {"name": p.name, "version": p.version, "integrity": p.integrity, "files": p.files}
            for p in packages
        ],
        "sha256": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
    }


def up_to_date(packages: list[Package], destination: Path) -> bool:
    """The pinned versions are installed in `destination`, every file intact."""
    try:
        stamp = json.loads((destination / STAMP).read_text(encoding="utf-8"))
        wanted = _stamp(packages, {})["packages"]
        if stamp["packages"] != wanted:
            return False
        names = {name for p in packages for name in p.files.values()}
        if set(stamp["sha256"]) != names:
            return False
        return all(
            hashlib.sha256((destination / name).read_bytes()).hexdigest() == digest
            for name, digest in stamp["sha256"].items()
        )
    except (OSError, ValueError, KeyError, TypeError):
        return False


def install(
    packages: list[Package], destination: Path = DESTINATION, *, registry: str | None = None
) -> bool:
    """Install the pinned packages into `destination`; False when they already were."""
    if up_to_date(packages, destination):
        return False
    registry = registry or registry_url()
    files: dict[str, bytes] = {}
    for package in packages:
        url = tarball_url(registry, package)
        files.update(checked_files(package, _get(url), url))
    destination.parent.mkdir(parents=True, exist_ok=True)
    new = Path(tempfile.mkdtemp(prefix=".vendor-new-", dir=destination.parent))
    old = destination.parent / f".vendor-old-{os.getpid()}"
    try:
        for name, data in files.items():
            (new / name).write_bytes(data)
        stamp = json.dumps(_stamp(packages, files), indent=2) + "\n"
        (new / STAMP).write_text(stamp, encoding="utf-8")
        new.chmod(0o755)  # mkdtemp's folder is private; the files are served
        if destination.exists():
            destination.rename(old)
        try:
            new.rename(destination)
        except OSError:
            if old.exists():
                old.rename(destination)  # what was installed before stays
            raise
    except OSError as exc:
        raise VendorFetchFailed(f"could not install into {destination}: {exc}") from exc
    finally:
        shutil.rmtree(new, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m switchboard.vendor", description=__doc__)
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument("--destination", type=Path, default=DESTINATION)
    options = parser.parse_args(argv)
    try:
        packages = load_manifest(options.manifest)
        changed = install(packages, options.destination)
    except SwitchboardError as exc:
        print(f"error ({exc.code}): {exc}", file=sys.stderr)
        return 1
    if changed:  # silent otherwise: every make target runs this
        specs = ", ".join(p.spec for p in packages)
        print(f"installed {specs} into {options.destination}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
