# ruff: noqa: S603, S607 - commands are built here from fixed tool names found on PATH
"""A private Docker engine: Debian's ``dockerd`` on a socket of its own under ``.docker/``.

It never meets another Docker on the machine: its own socket, exec root (and with it its own
containerd, which dockerd starts as a child), and no default bridge (``--bridge none``: builds
run with the host's network, containers of the tests too, and compose makes its own networks).
Images and the build cache live in ``.cache/docker`` and are kept between runs; ``down`` stops
the engine and removes its containers, networks, iptables chains and ``.docker/``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import psutil

from tools.iptables import delete_chains
from tools.locks import exclusive_lock
from tools.mounts import unmount_below
from tools.stack.processes import RunningProcess, start_detached, wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
STATE_DIR = REPO_ROOT / ".docker"
DATA_ROOT = REPO_ROOT / ".cache" / "docker"
# The CLI of Debian's docker.io: it builds with BuildKit itself. A newer CLI elsewhere on PATH
# may need the buildx plugin for that, which Debian does not ship.
DEBIAN_DOCKER_CLI = Path("/usr/bin/docker")
REQUIRED_TOOLS = {"dockerd": "docker.io", "debootstrap": "debootstrap", "iptables": "iptables"}
READY_TIMEOUT = 60
STOP_TIMEOUT = 30
DOCKER_CHAINS = ("DOCKER",)  # DOCKER, DOCKER-USER, DOCKER-ISOLATION-STAGE-1 and -2


class EngineError(RuntimeError):
    """The engine could not be brought to the requested state; the message says why."""


class Engine:
    def __init__(self, state_dir: Path = STATE_DIR, data_root: Path = DATA_ROOT) -> None:
        self.state_dir = state_dir
        self.data_root = data_root
        self.socket = state_dir / "docker.sock"
        self.log_path = state_dir / "dockerd.log"
        self.state_file = state_dir / "state.json"

    # --- what clients need ----------------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        """The environment a Docker client (CLI, compose) needs to talk to this engine."""
        return {
            **os.environ,
            "DOCKER_HOST": f"unix://{self.socket}",
            "DOCKER_BUILDKIT": "1",
            # No credential helpers or contexts from the user's ~/.docker.
            "DOCKER_CONFIG": str(self.state_dir / "client"),
        }

    def docker(
        self, *arguments: object, check: bool = True, timeout: float = 600, **kwargs
    ) -> subprocess.CompletedProcess:
        """Run the Docker CLI against this engine; output captured as text unless redirected."""
        kwargs.setdefault("capture_output", "stdout" not in kwargs)
        result = subprocess.run(
            [str(docker_cli()), *map(str, arguments)],
            env=self.env,
            text=True,
            timeout=timeout,
            check=False,
            **kwargs,
        )
        if check and result.returncode != 0:
            raise EngineError(
                f"docker {shlex.join(map(str, arguments))} failed ({result.returncode}):\n"
                f"{result.stderr or ''}"
            )
        return result

    def is_running(self) -> bool:
        return (
            self.socket.exists()
            and self.docker("version", "--format", "{{.Server.Version}}", check=False, timeout=20)
            .returncode == 0
        )  # fmt: skip

    # --- commands ---------------------------------------------------------------------------

    def up(self) -> None:
        with self._lock():
            if self.is_running():
                return
            self._stop(self._load_state())
            install_missing_packages(REQUIRED_TOOLS)
            self.state_dir.mkdir(parents=True, exist_ok=True)
            self.data_root.mkdir(parents=True, exist_ok=True)
            process = start_detached(
                "dockerd",
                [
                    "dockerd",
                    "--data-root", self.data_root,
                    "--exec-root", self.state_dir / "run",
                    "--pidfile", self.state_dir / "dockerd.pid",
                    "--host", f"unix://{self.socket}",
                    "--bridge", "none",
                ],
                env=os.environ,
                cwd=self.state_dir,
                log_path=self.log_path,
            )  # fmt: skip
            self.state_file.write_text(json.dumps(process.to_json()))
            if not wait_until(lambda: process.is_alive() and self.is_running(), READY_TIMEOUT):
                tail = "\n".join(self.log_path.read_text(errors="replace").splitlines()[-20:])
                self._stop(process.to_json())
                raise EngineError(f"dockerd did not become ready:\n{tail}")
            print(f"Docker engine up: DOCKER_HOST=unix://{self.socket}")

    def down(self) -> None:
        with self._lock():
            state = self._load_state()
            if self.is_running():
                containers = self.docker("ps", "--all", "--quiet").stdout.split()
                if containers:
                    self.docker("rm", "--force", "--volumes", *containers)
                self.docker("network", "prune", "--force")
            self._stop(state)
            unmount_below(self.state_dir)  # dockerd's netns/default outlives it
            shutil.rmtree(self.state_dir, ignore_errors=True)
            print("Docker engine down.")

    def print_status(self) -> bool:
        running = self.is_running()
        state = self._load_state()
        print(f"dockerd pid {state.get('pid', '-')}: {'running' if running else 'not running'}")
        print(f"  socket {self.socket}\n  images and build cache in {self.data_root}")
        return running

    # --- internals --------------------------------------------------------------------------

    def _stop(self, state: dict) -> None:
        if state:
            RunningProcess(**state).stop(STOP_TIMEOUT)
        if not _other_dockerd_running():
            delete_chains(DOCKER_CHAINS, tables=("nat", "filter"))

    def _load_state(self) -> dict:
        try:
            return json.loads(self.state_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def _lock(self) -> contextlib.AbstractContextManager[None]:
        return exclusive_lock(self.state_dir.with_name(".docker.lock"))


def docker_cli() -> Path:
    if DEBIAN_DOCKER_CLI.exists():
        return DEBIAN_DOCKER_CLI
    found = shutil.which("docker")
    if not found:
        raise EngineError("no docker CLI; install Debian's docker.io")
    return Path(found)


def install_missing_packages(tools: dict[str, str]) -> None:
    """Install the Debian packages of the tools not on PATH (as root), else say the command."""
    missing = sorted({package for tool, package in tools.items() if not shutil.which(tool)})
    if not missing:
        return
    if os.geteuid() != 0:
        raise EngineError(
            f"missing Debian packages; run: sudo apt-get install -y {' '.join(missing)}"
        )
    print(f"Installing Debian packages: {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env)


def _other_dockerd_running() -> bool:
    return any(
        p.info["name"] == "dockerd" and p.info["status"] != psutil.STATUS_ZOMBIE
        for p in psutil.process_iter(["name", "status"])
    )
