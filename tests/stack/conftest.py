"""The stack suite uses the session-wide ``stack`` fixture of tests/plugins/stack.py."""

from tests.plugins.stack import stack  # noqa: F401 - re-exported fixture
