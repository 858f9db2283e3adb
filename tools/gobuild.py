# ruff: noqa: S603 - commands are built here from fixed tool names found on PATH
"""Go programs built from pinned modules, cached by their inputs.

A component is one module folder (a ``go.mod`` that requires the upstream module at its pinned
version, with ``go.sum``) and one ``go build -o DIR pkg...`` in it, so the commands of a module
share compile work. Its output folder is named for the version and a hash of the module files
and flags: a changed pin builds anew, an unchanged one is reused as it is. The normal
``GOCACHE`` is used, so a new clone on the same machine builds in seconds.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tools.locks import exclusive_lock


@dataclass(frozen=True)
class Component:
    name: str
    version: str
    packages: tuple[str, ...]
    binaries: tuple[str, ...]
    gomod_dir: Path
    cache_dir: Path
    ldflags: str = ""

    @property
    def module_dir(self) -> Path:
        return self.gomod_dir / self.name

    @property
    def out_dir(self) -> Path:
        digest = hashlib.sha256()
        for path in sorted(self.module_dir.iterdir()):
            digest.update(path.name.encode() + path.read_bytes())
        digest.update(self.ldflags.encode())
        return self.cache_dir / "bin" / f"{self.name}-{self.version}-{digest.hexdigest()[:10]}"

    def is_built(self) -> bool:
        return all((self.out_dir / binary).is_file() for binary in self.binaries)


def go_build(component: Component) -> float:
    """Build ``component`` into its cache folder (niced: the machine is shared); seconds taken."""
    started = time.monotonic()
    partial = component.out_dir.with_name(component.out_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    env = {**os.environ, "CGO_ENABLED": "0"}
    command = ["nice", "-n", "10", "go", "build", "-trimpath", "-ldflags", component.ldflags]
    if len(component.binaries) == 1:
        command += ["-o", str(partial / component.binaries[0]), *component.packages]
    else:
        command += ["-o", str(partial) + "/", *component.packages]
    subprocess.run(command, cwd=component.module_dir, env=env, check=True)
    shutil.rmtree(component.out_dir, ignore_errors=True)
    partial.rename(component.out_dir)
    return time.monotonic() - started


def ensure_built(component: Component, log: Callable[[str], None] = print) -> Path:
    """The component's output folder, built first unless cached. Callers that build the same
    component at once (``python -m tools.prebuild`` in the background of a test session, and a
    fixture that needs it) take turns on a lock: the second finds it built."""
    with exclusive_lock(component.cache_dir / "bin" / f".{component.name}.lock"):
        if not component.is_built():
            log(
                f"Building {component.name} {component.version} (cached in {component.out_dir}) ..."
            )
            log(f"Built {component.name} in {go_build(component):.0f} s.")
    return component.out_dir
