# ruff: noqa: S603 - iptables and ip6tables by name
"""Remove the iptables chains a daemon made and left behind (kubelet, kube-proxy, CNI plugins,
dockerd), with the rules that jump to them, in IPv4 and IPv6."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Sequence


def delete_chains(prefixes: Sequence[str], tables: Sequence[str] = ("nat", "filter", "mangle")):
    """Every chain whose name starts with one of ``prefixes``, and every rule of another chain
    that jumps to one of them."""
    prefixes = tuple(prefixes)
    for binary in ("iptables", "ip6tables"):
        if not shutil.which(binary):
            continue
        for table in tables:

            def run(*arguments: str, binary=binary, table=table) -> str:
                command = [binary, "-w", "-t", table, *arguments]
                return subprocess.run(command, capture_output=True, text=True, check=False).stdout

            rules = run("-S").splitlines()
            for rule in rules:
                parts = shlex.split(rule)
                if parts[:1] == ["-A"] and not parts[1].startswith(prefixes) \
                        and any(p.startswith(prefixes) for p in parts[2:]):  # fmt: skip
                    run("-D", *parts[1:])
            chains = [r.split()[1] for r in rules if r.startswith("-N ")]
            chains = [chain for chain in chains if chain.startswith(prefixes)]
            for chain in chains:
                run("-F", chain)
            for chain in chains:
                run("-X", chain)
