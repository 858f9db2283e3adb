"""``docker run`` flags for the chart's container hardening, in one place for the tests and the
benchmark: the pod's uid and gid, a read-only root filesystem, no capability, no new
privileges, and a tmpfs owned by that user on each path the chart mounts an emptyDir on.

Docker keeps a tmpfs's ``mode`` only where the image has no such folder (it copies the image's
folder up, owned by root); ``uid``/``gid`` it keeps, so that is how the user gets to write.
"""

from __future__ import annotations

from collections.abc import Iterable


def hardened(user: str, writable: Iterable[str], *, read_only: bool = True) -> list[str]:
    uid, _, gid = user.partition(":")
    arguments = [
        "--user", f"{uid}:{gid or uid}", "--cap-drop", "ALL",
        "--security-opt", "no-new-privileges",
    ]  # fmt: skip
    if read_only:
        arguments.append("--read-only")
    for path in writable:
        arguments += ["--tmpfs", f"{path}:rw,uid={uid},gid={gid or uid},mode=0770"]
    return arguments
