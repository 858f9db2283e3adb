"""What the load tests need from a running ``make stack``: its URL and its app environment."""

from __future__ import annotations

from tools.stack.runner import Stack


class StackNotRunning(RuntimeError):
    """``make stack`` is not up; the message says how to start it."""


def ensure_stack_up() -> None:
    """``make stack up``: starts the stack, or confirms it runs (then leaves it as it is)."""
    Stack().up()


def stack_state() -> dict:
    state = Stack()._load_state()
    if not state:
        raise StackNotRunning("make stack is not running: start it with `make stack`")
    return state


def stack_app_env() -> dict[str, str]:
    """The environment the stack gives its web processes (settings, database, Redis, keys).

    The stack builds it in ``Stack._app_env``; reusing that keeps one definition of it.
    """
    stack = Stack()
    stack._state = stack_state()
    return stack._app_env(stack._state["ports"], stack._secrets())
