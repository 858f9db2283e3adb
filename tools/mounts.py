# ruff: noqa: S603, S607 - umount by name, on mount points read from the kernel
"""Mounts a killed or stopped daemon leaves under its state folder (overlays, network
namespaces bound to a file), removed deepest first so that the folder can be deleted."""

from __future__ import annotations

import subprocess
from pathlib import Path


def mounts_below(directory: Path) -> list[str]:
    prefix = f"{directory}/"
    mount_points = [
        line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
    ]
    return [point for point in mount_points if point.startswith(prefix)]


def unmount_below(directory: Path) -> None:
    """Lazily unmount everything mounted below ``directory``, deepest first."""
    for point in sorted(mounts_below(directory), key=len, reverse=True):
        unmount(point)


def unmount(point: str | Path) -> None:
    """Detach ``point`` lazily (busy or not); nothing mounted there is no error."""
    subprocess.run(["umount", "-l", str(point)], capture_output=True, check=False)
