# ruff: noqa: S603, S607 - commands are built here from fixed tool names found on PATH
"""Build the app image and the local twins of its upstream images, cached by their inputs.

- ``bazaar.local/debian:bookworm``: ``debootstrap --variant=minbase`` into a folder, the
  machine's own local CA certificates added (a TLS-intercepting proxy's among them), then
  ``docker import``. Every twin starts from it.
- the twins in ``twins/Dockerfile``: Python, uv, Postgres, PgBouncer, Redis, their exporters,
  Prometheus and Mailpit (Mailpit and Docker Compose from their Go modules, ``gomod/``).
- the app image: the committed Dockerfile with its ``PYTHON_IMAGE`` and ``UV_IMAGE`` arguments
  pointed at the twins. Everything else in it is as users build it.

Builds run with the host's network (the engine has no default bridge) and BuildKit's cache in
the engine's data root, so an unchanged rebuild takes seconds.
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import subprocess
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from tools.gobuild import Component, ensure_built
from tools.image import versions
from tools.image.engine import Engine

REPO_ROOT = Path(__file__).resolve().parents[2]
TWINS_DIR = Path(__file__).resolve().parent / "twins"
GOMOD_DIR = Path(__file__).resolve().parent / "gomod"
CACHE_DIR = REPO_ROOT / ".cache" / "image"
DOCKERFILE = REPO_ROOT / "Dockerfile"
LOCAL_CA_DIR = Path("/usr/local/share/ca-certificates")
PYPI_SIMPLE = "https://pypi.org/simple/uv/"  # the JSON form of the simple API (PEP 691)

COMPOSE = Component(
    "compose",
    versions.COMPOSE,
    ("github.com/docker/compose/v2/cmd",),
    ("docker-compose",),
    GOMOD_DIR,
    CACHE_DIR,
    f"-s -w -X github.com/docker/compose/v2/internal.Version={versions.COMPOSE}",
)
MAILPIT = Component(
    "mailpit",
    versions.MAILPIT,
    ("github.com/axllent/mailpit",),
    ("mailpit",),
    GOMOD_DIR,
    CACHE_DIR,
    f"-s -w -X github.com/axllent/mailpit/config.Version={versions.MAILPIT}",
)


class ImageBuildError(RuntimeError):
    """A build failed; the message ends with the tail of its output."""


@dataclass(frozen=True)
class BuiltImage:
    reference: str
    seconds: float
    log_path: Path


def dockerfile_arguments(dockerfile: Path = DOCKERFILE) -> dict[str, str]:
    """The ``ARG NAME=default`` lines before the first ``FROM``: the upstream base images."""
    arguments = {}
    for line in dockerfile.read_text().splitlines():
        if line.startswith("FROM "):
            break
        if match := re.match(r"ARG (\w+)=(\S+)", line):
            arguments[match[1]] = match[2]
    return arguments


def uv_version() -> str:
    return dockerfile_arguments()["UV_IMAGE"].rsplit(":", 1)[1]


def uv_image() -> str:
    return f"bazaar.local/uv:{uv_version()}"


def compose_binary() -> Path:
    """Docker Compose v2 (``docker-compose``), built from its module on first use."""
    return ensure_built(COMPOSE) / "docker-compose"


# --- the base, from debootstrap ------------------------------------------------------------------


def debian_base(engine: Engine) -> str:
    reference = versions.DEBIAN_IMAGE
    if _has_image(engine, reference):
        return reference
    print(f"Making {reference} with debootstrap (about a minute) ...")
    with tempfile.TemporaryDirectory(prefix="bazaar-rootfs-") as scratch:
        rootfs = Path(scratch) / "rootfs"
        subprocess.run(
            ["debootstrap", "--variant=minbase", "--include=ca-certificates",
             versions.DEBIAN_SUITE, str(rootfs), versions.DEBIAN_MIRROR],
            check=True, capture_output=True,
        )  # fmt: skip
        suite, mirror = versions.DEBIAN_SUITE, versions.DEBIAN_MIRROR
        (rootfs / "etc/apt/sources.list").write_text(
            f"deb {mirror} {suite} main\ndeb {mirror} {suite}-updates main\n"
            f"deb http://deb.debian.org/debian-security {suite}-security main\n"
        )
        # The machine's own CAs: a proxy that re-signs TLS must be trusted inside builds too.
        for certificate in sorted(LOCAL_CA_DIR.glob("*.crt")):
            shutil.copy(certificate, rootfs / "usr/local/share/ca-certificates")
        subprocess.run(["chroot", str(rootfs), "update-ca-certificates"], check=True,
                       capture_output=True)  # fmt: skip
        for leftover in ("var/cache/apt/archives", "var/cache/apt", "var/lib/apt/lists"):
            for path in (rootfs / leftover).glob("*"):
                if path.is_file():
                    path.unlink()
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        engine.docker(
            "import",
            "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--change", "ENV LANG=C.UTF-8",
            "--change", 'CMD ["bash"]',
            "-", reference,
            stdin=tar.stdout,
        )  # fmt: skip
        if tar.wait() != 0:
            raise ImageBuildError("tar of the debootstrap folder failed")
    return reference


# --- the twins -----------------------------------------------------------------------------------


def _uv_binaries() -> Path:
    """uv and uvx of the Dockerfile's uv version, from its PyPI wheel (hash checked)."""
    version = uv_version()
    folder = CACHE_DIR / f"uv-{version}"
    if (folder / "uv").is_file() and (folder / "uvx").is_file():
        return folder
    index = httpx.get(
        PYPI_SIMPLE, headers={"Accept": "application/vnd.pypi.simple.v1+json"}, timeout=60
    ).raise_for_status()
    (wheel,) = [
        f for f in index.json()["files"]
        if f["filename"].startswith(f"uv-{version}-")
        and "manylinux_2_17_x86_64" in f["filename"]
    ]  # fmt: skip
    payload = httpx.get(wheel["url"], timeout=300).raise_for_status().content
    if hashlib.sha256(payload).hexdigest() != wheel["hashes"]["sha256"]:
        raise ImageBuildError(f"{wheel['filename']}: sha256 does not match PyPI's")
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        for name in ("uv", "uvx"):
            target = partial / name
            target.write_bytes(archive.read(f"uv-{version}.data/scripts/{name}"))
            target.chmod(0o755)
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    return folder


def _twins_context(folder: Path) -> Path:
    """The build context of twins/Dockerfile: its scripts and the binaries built here."""
    shutil.copytree(TWINS_DIR, folder, dirs_exist_ok=True)
    shutil.copy(REPO_ROOT / "tools/stack/pgbouncer_exporter.py", folder)
    for binary in ("uv", "uvx"):
        shutil.copy(_uv_binaries() / binary, folder)
    shutil.copy(ensure_built(MAILPIT) / "mailpit", folder)
    return folder


def twins(engine: Engine, targets: tuple[str, ...] | None = None) -> dict[str, str]:
    """Build the twins (all, or ``targets``); their references by target."""
    wanted = {"python": versions.PYTHON_IMAGE, "uv": uv_image(), **versions.SERVICE_IMAGES}
    if targets is not None:
        wanted = {target: wanted[target] for target in targets}
    base = debian_base(engine)
    with tempfile.TemporaryDirectory(prefix="bazaar-twins-") as scratch:
        context = _twins_context(Path(scratch))
        for target, reference in wanted.items():
            _build(
                engine, reference, context, context / "Dockerfile", target,
                {"DEBIAN_IMAGE": base},
            )  # fmt: skip
    return wanted


# --- the app image -------------------------------------------------------------------------------


def app_image(
    engine: Engine,
    tag: str = "local",
    *,
    context: Path = REPO_ROOT,
    dockerfile: Path | None = None,
    target: str = "runtime",
) -> BuiltImage:
    """The committed Dockerfile (or ``dockerfile``) on the local twins of its base images."""
    built = twins(engine, ("python", "uv"))
    return _build(
        engine,
        f"{versions.APP_IMAGE}:{tag}",
        context,
        dockerfile or context / "Dockerfile",
        target,
        {"PYTHON_IMAGE": built["python"], "UV_IMAGE": built["uv"]},
    )


def _build(
    engine: Engine,
    reference: str,
    context: Path,
    dockerfile: Path,
    target: str,
    arguments: dict[str, str],
) -> BuiltImage:
    log_path = CACHE_DIR / "logs" / f"{reference.replace('/', '_').replace(':', '_')}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    command = [
        "build", "--network", "host", "--progress", "plain",
        "--file", dockerfile, "--target", target, "--tag", reference,
        *(part for name, value in arguments.items() for part in ("--build-arg", f"{name}={value}")),
        context,
    ]  # fmt: skip
    with log_path.open("w") as log:
        result = engine.docker(*command, check=False, stdout=log, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-40:])
        raise ImageBuildError(f"docker build of {reference} failed (log: {log_path}):\n{tail}")
    return BuiltImage(reference, time.monotonic() - started, log_path)


def _has_image(engine: Engine, reference: str) -> bool:
    return engine.docker("image", "inspect", reference, check=False).returncode == 0
