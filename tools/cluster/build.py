# ruff: noqa: S603, S607 - commands are built here from fixed tool names found on PATH
"""Build the cluster's binaries and images from the pinned Go modules, cached by their inputs.

Each component is one ``go build -o DIR pkg...`` in its module under ``gomod/`` (one invocation
per module so the commands share compile work). Its output folder under ``.cache/cluster/bin``
is named for the version and a hash of the module files, so a changed pin builds anew and an
unchanged one is reused as it is. Images are Docker-archive tarballs made here (one layer with
the static binary), which ``ctr images import`` accepts: nothing is pulled.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path

from tools.cluster import versions
from tools.gobuild import Component, ensure_built

REPO_ROOT = Path(__file__).resolve().parents[2]
GOMOD_DIR = Path(__file__).resolve().parent / "gomod"
CACHE_DIR = REPO_ROOT / ".cache" / "cluster"
KUBERNETES_COMMANDS = (
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
    "kubectl",
)


def _kubernetes_ldflags() -> str:
    version = versions.KUBERNETES
    major, minor = version.lstrip("v").split(".")[:2]
    flags = ["-s", "-w"]
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {package}.gitVersion={version}",
            f"-X {package}.gitMajor={major}",
            f"-X {package}.gitMinor={minor}",
            f"-X {package}.gitTreeState=clean",
        ]
    return " ".join(flags)


COMPONENTS = (
    Component(
        "kubernetes",
        versions.KUBERNETES,
        (
            *(f"k8s.io/kubernetes/cmd/{command}" for command in KUBERNETES_COMMANDS),
            "go.etcd.io/etcd/server/v3",
        ),
        (*KUBERNETES_COMMANDS, "server"),
        GOMOD_DIR,
        CACHE_DIR,
        _kubernetes_ldflags(),
    ),
    Component("coredns", versions.COREDNS, (".",), ("coredns",), GOMOD_DIR, CACHE_DIR, "-s -w"),
    Component(
        "metrics-server",
        versions.METRICS_SERVER,
        ("sigs.k8s.io/metrics-server/cmd/metrics-server",),
        ("metrics-server",),
        GOMOD_DIR,
        CACHE_DIR,
        "-s -w",
    ),
    Component("probe", versions.PROBE, (".",), ("probe",), GOMOD_DIR, CACHE_DIR, "-s -w"),
)


def binaries() -> dict[str, Path]:
    """Every built binary by name (etcd's main package builds as ``server``: it is called etcd)."""
    found = {}
    for component in COMPONENTS:
        for binary in component.binaries:
            found["etcd" if binary == "server" else binary] = component.out_dir / binary
    return found


def build_pause() -> Path:
    """The pause binary from the Kubernetes module's own C source, linked statically."""
    source = _kubernetes_module_dir() / "build" / "pause" / "linux" / "pause.c"
    target = CACHE_DIR / "bin" / f"pause-{versions.PAUSE}" / "pause"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "gcc",
                "-Os",
                "-static",
                "-Wall",
                "-Werror",
                f'-DVERSION="{versions.PAUSE}"',
                "-o",
                str(target),
                str(source),
            ],
            check=True,
        )
        subprocess.run(["strip", str(target)], check=True)
    return target


def _kubernetes_module_dir() -> Path:
    result = subprocess.run(
        ["go", "list", "-m", "-f", "{{.Dir}}", "k8s.io/kubernetes"],
        cwd=GOMOD_DIR / "kubernetes",
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(result.stdout.strip())


def image_tarball(reference: str, binary: Path, entrypoint: list[str]) -> Path:
    """A one-layer Docker-archive image holding ``binary`` at ``/<name>``, run as 65532."""
    name = reference.rsplit("/", 1)[-1].replace(":", "-")
    target = CACHE_DIR / "images" / f"{name}.tar"
    if target.is_file() and target.stat().st_mtime >= binary.stat().st_mtime:
        return target
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tmp = tarfile.TarInfo("tmp")
        tmp.type, tmp.mode = tarfile.DIRTYPE, 0o1777
        tar.addfile(tmp)
        info = tar.gettarinfo(str(binary), arcname=binary.name)
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = 0
        with binary.open("rb") as handle:
            tar.addfile(info, handle)
    layer_bytes = layer.getvalue()
    layer_digest = hashlib.sha256(layer_bytes).hexdigest()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Entrypoint": entrypoint, "User": "65532:65532", "WorkingDir": "/"},
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_digest}"]},
        }
    ).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps(
        [{"Config": config_name, "RepoTags": [reference], "Layers": [f"{layer_digest}.tar"]}]
    ).encode()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    with tarfile.open(partial, mode="w") as archive:
        for member, payload in (
            (f"{layer_digest}.tar", layer_bytes),
            (config_name, config),
            ("manifest.json", manifest),
        ):
            info = tarfile.TarInfo(member)
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    partial.rename(target)
    return target


def build_all(log=print) -> dict[str, Path]:
    """Build what is missing; the image tarballs by reference."""
    for component in COMPONENTS:
        ensure_built(component, log)
    built = binaries()
    return {
        versions.PAUSE_IMAGE: image_tarball(versions.PAUSE_IMAGE, build_pause(), ["/pause"]),
        versions.COREDNS_IMAGE: image_tarball(
            versions.COREDNS_IMAGE, built["coredns"], ["/coredns"]
        ),
        versions.METRICS_SERVER_IMAGE: image_tarball(
            versions.METRICS_SERVER_IMAGE, built["metrics-server"], ["/metrics-server"]
        ),
        versions.PROBE_IMAGE: image_tarball(versions.PROBE_IMAGE, built["probe"], ["/probe"]),
    }
