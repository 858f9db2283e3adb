"""Read the Terraform configuration under ``terraform/`` the way Terraform sees it.

No provider can be downloaded here, so ``terraform validate`` cannot run; these helpers parse the
files with python-hcl2 (the ``hcl2`` module) and answer the questions ``validate`` and a reviewer
would ask: which variables and outputs a module declares, what it references, which modules an
environment calls with which arguments.

Two distributions install a module named ``hcl2``: PyPI ``python-hcl2`` (7 and later take
``SerializationOptions``) and checkov's fork ``bc-python-hcl2``, which wraps every attribute value
in a one-element list. Whichever of them is installed, the helpers return plain values.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2

REPO_ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO_ROOT / "terraform"
MODULES_DIR = TERRAFORM_DIR / "modules"
ENVIRONMENTS_DIR = TERRAFORM_DIR / "environments"

# Arguments of a module block that are Terraform's own, not the module's variables.
MODULE_META_ARGUMENTS = frozenset(
    {"source", "version", "providers", "depends_on", "count", "for_each"}
)

_ATTRIBUTES_WRAPPED = not hasattr(hcl2, "SerializationOptions")
_REFERENCE = re.compile(r"\b(var|local|module)\.([A-Za-z_][A-Za-z0-9_-]*)(?:\.([A-Za-z_]\w*))?")


def parse(path: Path) -> dict[str, Any]:
    """One HCL file as Python data; raises on a syntax error."""
    text = path.read_text()
    if _ATTRIBUTES_WRAPPED:
        return hcl2.loads(text)
    options = hcl2.SerializationOptions(
        strip_string_quotes=True, explicit_blocks=False, with_comments=False
    )
    return hcl2.loads(text, serialization_options=options)


def attribute(body: dict[str, Any], name: str, default: Any = None) -> Any:
    """The value of attribute ``name`` in a block body, unwrapped whatever the parser."""
    if name not in body:
        return default
    value = body[name]
    return value[0] if _ATTRIBUTES_WRAPPED else value


def labelled_blocks(document: dict[str, Any], block_type: str) -> Iterator[tuple[str, dict]]:
    """``(label, body)`` of every ``block_type "label" { ... }`` in a parsed file."""
    for block in document.get(block_type, []):
        for label, body in block.items():
            yield label.strip('"'), body


def strings_in(value: Any) -> Iterator[str]:
    """Every string anywhere inside parsed HCL: expressions are strings like ``${var.x}``."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def references(value: Any) -> set[tuple[str, str, str | None]]:
    """``(kind, name, attribute)`` of every ``var.x``, ``local.x`` and ``module.x.y`` inside."""
    return {match.groups() for text in strings_in(value) for match in _REFERENCE.finditer(text)}


@dataclass(frozen=True)
class Variable:
    name: str
    body: dict[str, Any]

    @property
    def type(self) -> Any:
        return attribute(self.body, "type")

    @property
    def description(self) -> str | None:
        return attribute(self.body, "description")

    @property
    def required(self) -> bool:
        return "default" not in self.body

    @property
    def default(self) -> Any:
        return attribute(self.body, "default")


@dataclass(frozen=True)
class ModuleCall:
    name: str
    body: dict[str, Any]

    @property
    def source(self) -> str:
        return attribute(self.body, "source")

    @property
    def version(self) -> str | None:
        return attribute(self.body, "version")

    @property
    def arguments(self) -> set[str]:
        return {key for key in self.body if not key.startswith("__")} - MODULE_META_ARGUMENTS


@dataclass(frozen=True)
class Configuration:
    """The ``.tf`` files of one directory: a module or an environment."""

    path: Path
    documents: tuple[tuple[Path, dict[str, Any]], ...]

    def blocks(self, block_type: str) -> Iterator[tuple[str, dict]]:
        for _, document in self.documents:
            yield from labelled_blocks(document, block_type)

    @property
    def variables(self) -> dict[str, Variable]:
        return {name: Variable(name, body) for name, body in self.blocks("variable")}

    @property
    def outputs(self) -> dict[str, dict[str, Any]]:
        return dict(self.blocks("output"))

    @property
    def module_calls(self) -> dict[str, ModuleCall]:
        return {name: ModuleCall(name, body) for name, body in self.blocks("module")}

    @property
    def locals(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for _, document in self.documents:
            for block in document.get("locals", []):
                merged.update({key: value for key, value in block.items()})
        return {key: attribute(merged, key) for key in merged if not key.startswith("__")}

    def references_outside_variable_blocks(self) -> set[tuple[str, str, str | None]]:
        """References anywhere but in ``variable`` blocks, whose validations name themselves."""
        found: set[tuple[str, str, str | None]] = set()
        for _, document in self.documents:
            for block_type, blocks in document.items():
                if block_type != "variable":
                    found |= references(blocks)
        return found


@functools.cache
def load(directory: Path) -> Configuration:
    files = sorted(directory.glob("*.tf"))
    return Configuration(directory, tuple((path, parse(path)) for path in files))


def module_dirs() -> list[Path]:
    return sorted(path for path in MODULES_DIR.iterdir() if path.is_dir())


def environment_dirs() -> list[Path]:
    return sorted(path for path in ENVIRONMENTS_DIR.iterdir() if path.is_dir())


def hcl_files() -> list[Path]:
    """Every Terraform and backend-configuration file in the tree."""
    patterns = ("*.tf", "*.tfvars.example", "*.tfbackend.example")
    return sorted(path for pattern in patterns for path in TERRAFORM_DIR.rglob(pattern))
