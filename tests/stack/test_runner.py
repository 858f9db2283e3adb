"""The stack runner's pieces that need no running stack."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bazaar.common.slices import DEFAULT_SLICE, SLICES
from tools.stack import configs
from tools.stack.runner import REPO_ROOT, Stack, web_processes


def test_sliced_stack_runs_one_web_per_slice_through_the_launcher():
    webs = web_processes(slices=True)
    assert [(web.name, web.command) for web in webs] == [
        (f"web-{name}", ["web", "--slice", name]) for name in SLICES
    ]
    assert [web.command for web in web_processes(slices=False)] == [["web"], ["web"]]


def test_a_relative_state_dir_is_made_absolute(tmp_path, monkeypatch):
    """Postgres, initdb and beat run from their own folders, so every path they get is absolute."""
    monkeypatch.chdir(tmp_path)
    stack = Stack(Path("elsewhere"))
    assert stack.state_dir == tmp_path / "elsewhere"
    assert stack.log_dir.is_absolute() and stack.run_dir.is_absolute()


def test_haproxy_accepts_the_sliced_configuration(tmp_path):
    """`haproxy -c` on what `up --slices` writes: one backend per slice, routed by path."""
    config = tmp_path / "haproxy.cfg"
    config.write_text(
        configs.haproxy_sliced_cfg(
            listen_port=28080,
            servers={f"web-{name}": 28081 + i for i, name in enumerate(SLICES)},
            prefixes={f"web-{name}": prefixes for name, prefixes in SLICES.items()},
            default_backend=f"web-{DEFAULT_SLICE}",
        )
    )
    checked = subprocess.run(["haproxy", "-c", "-f", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    text = config.read_text()
    assert "acl web_checkout path_beg /api/v1/cart/ /api/v1/orders/ /api/v1/payments/" in text
    assert f"default_backend web-{DEFAULT_SLICE}" in text


def test_make_stack_slices_1_asks_for_the_slices():
    def stack_command(*variables: str) -> str:
        planned = subprocess.run(
            ["make", "--no-print-directory", "-n", "stack", *variables],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return planned.stdout.strip().splitlines()[-1]

    assert stack_command("SLICES=1").endswith("python -m tools.stack up --slices")
    assert stack_command().endswith("python -m tools.stack up")
