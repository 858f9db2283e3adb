"""The Terraform tree is well-formed and self-consistent, as far as it can be shown offline.

``terraform init`` needs the providers, so ``validate`` cannot run here; these tests cover what
it would catch at the module boundaries, plus the documentation and pinning rules of the READMEs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.terraform import hcl

MODULES = hcl.module_dirs()
ENVIRONMENTS = hcl.environment_dirs()
REGISTRY_SOURCE = re.compile(r"^[a-z0-9-]+/[a-z0-9-]+/[a-z0-9]+(//.+)?$")
EXACT_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
README_ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|", re.MULTILINE)


def _ids(paths: list[Path]) -> list[str]:
    return [path.name for path in paths]


def _readme_rows(readme: Path, heading: str) -> set[str]:
    """Names in the first column of the table under ``## heading`` of a module README."""
    text = readme.read_text()
    section = re.search(rf"^## {heading}\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert section, f"{readme} has no '## {heading}' section"
    return set(README_ROW.findall(section.group(1)))


def test_the_expected_modules_and_environments_exist():
    """The modules the issue names and both environments are there."""
    assert set(_ids(MODULES)) == {"network", "cluster", "database", "cache", "addons", "release"}
    assert set(_ids(ENVIRONMENTS)) == {"staging", "production"}


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform binary not installed")
def test_terraform_fmt_check_passes():
    """`terraform fmt -check -recursive terraform` finds nothing to rewrite."""
    result = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", "-list=true", str(hcl.TERRAFORM_DIR)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"unformatted files:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize(
    "path", hcl.hcl_files(), ids=lambda p: str(p.relative_to(hcl.TERRAFORM_DIR))
)
def test_every_file_parses(path):
    """Every .tf file and every example tfvars/backend file is valid HCL."""
    assert isinstance(hcl.parse(path), dict)


@pytest.mark.parametrize("module_dir", MODULES, ids=_ids(MODULES))
def test_every_variable_is_typed_described_and_used(module_dir):
    """A module declares no variable it ignores, and each says its type and meaning."""
    config = hcl.load(module_dir)
    assert config.variables, f"{module_dir.name} declares no variables"
    used = {name for kind, name, _ in config.references_outside_variable_blocks() if kind == "var"}
    for variable in config.variables.values():
        assert variable.type, f"{module_dir.name}: variable {variable.name} has no type"
        assert variable.description, (
            f"{module_dir.name}: variable {variable.name} has no description"
        )
        assert variable.name in used, f"{module_dir.name}: variable {variable.name} is never used"
    undeclared = used - set(config.variables)
    assert not undeclared, f"{module_dir.name} references undeclared variables {undeclared}"


@pytest.mark.parametrize("directory", MODULES + ENVIRONMENTS, ids=_ids(MODULES + ENVIRONMENTS))
def test_every_output_is_described(directory):
    """Outputs say what they hold."""
    for name, body in hcl.load(directory).outputs.items():
        assert hcl.attribute(body, "description"), (
            f"{directory.name}: output {name} has no description"
        )


@pytest.mark.parametrize("directory", MODULES + ENVIRONMENTS, ids=_ids(MODULES + ENVIRONMENTS))
def test_every_local_is_used(directory):
    """No local value is dead."""
    config = hcl.load(directory)
    used = {
        name for kind, name, _ in config.references_outside_variable_blocks() if kind == "local"
    }
    unused = set(config.locals) - used
    assert not unused, f"{directory.name}: unused locals {unused}"


@pytest.mark.parametrize("module_dir", MODULES, ids=_ids(MODULES))
def test_module_readme_documents_exactly_the_interface(module_dir):
    """The README's Inputs and Outputs tables list every variable and output, and nothing else."""
    config = hcl.load(module_dir)
    readme = module_dir / "README.md"
    assert readme.is_file(), f"{module_dir.name} has no README.md"
    assert _readme_rows(readme, "Inputs") == set(config.variables)
    assert _readme_rows(readme, "Outputs") == set(config.outputs)


@pytest.mark.parametrize("module_dir", MODULES, ids=_ids(MODULES))
def test_every_output_is_used_by_an_environment_or_documented(module_dir):
    """An output no environment reads is still part of the module's documented interface."""
    documented = _readme_rows(module_dir / "README.md", "Outputs")
    read = set()
    for environment in ENVIRONMENTS:
        config = hcl.load(environment)
        calls = {
            name
            for name, call in config.module_calls.items()
            if Path(call.source).name == module_dir.name
        }
        read |= {
            attribute
            for kind, name, attribute in config.references_outside_variable_blocks()
            # A bare module.NAME (depends_on) reads no output.
            if kind == "module" and name in calls and attribute
        }
    for output in hcl.load(module_dir).outputs:
        assert output in read or output in documented, f"{module_dir.name}: output {output}"
    unknown = read - set(hcl.load(module_dir).outputs)
    assert not unknown, f"environments read outputs {module_dir.name} does not declare: {unknown}"


@pytest.mark.parametrize("environment", ENVIRONMENTS, ids=_ids(ENVIRONMENTS))
def test_environment_module_calls_match_the_modules(environment):
    """Each environment calls every module, passing only declared and all required variables."""
    calls = hcl.load(environment).module_calls
    called = {Path(call.source).name for call in calls.values()}
    assert called == set(_ids(MODULES))
    for call in calls.values():
        module_dir = (environment / call.source).resolve()
        assert module_dir.parent == hcl.MODULES_DIR, f"{call.name}: {call.source} is not a module"
        variables = hcl.load(module_dir).variables
        unknown = call.arguments - set(variables)
        assert not unknown, f"{environment.name}: module.{call.name} gets undeclared {unknown}"
        required = {name for name, variable in variables.items() if variable.required}
        missing = required - call.arguments
        assert not missing, f"{environment.name}: module.{call.name} misses required {missing}"


@pytest.mark.parametrize("environment", ENVIRONMENTS, ids=_ids(ENVIRONMENTS))
def test_environment_uses_a_partially_configured_s3_backend(environment):
    """The S3 backend block is empty: bucket, key and locking come from -backend-config."""
    backends = [
        backend
        for _, document in hcl.load(environment).documents
        for block in document.get("terraform", [])
        for backend in block.get("backend", [])
    ]
    assert len(backends) == 1, f"{environment.name} must declare exactly one backend"
    ((name, settings),) = backends[0].items()
    assert name.strip('"') == "s3"
    assert not [key for key in settings if not key.startswith("__")], "backend settings committed"
    example = hcl.parse(environment / "backend.tfbackend.example")
    assert {"bucket", "key", "region", "use_lockfile", "encrypt"} <= set(example)
    assert hcl.attribute(example, "use_lockfile") is True


def test_community_modules_are_pinned_and_named_in_the_readme():
    """Registry modules are pinned to an exact release, and the README says which and why."""
    pinned = 0
    for module_dir in MODULES:
        readme = (module_dir / "README.md").read_text()
        for call in hcl.load(module_dir).module_calls.values():
            assert REGISTRY_SOURCE.match(call.source), f"{module_dir.name}: {call.source}"
            assert call.version and EXACT_VERSION.match(call.version), (
                f"{module_dir.name}: module.{call.name} is not pinned to an exact version"
            )
            assert f"{call.source}" in readme and call.version in readme, (
                f"{module_dir.name}/README.md does not name {call.source} {call.version}"
            )
            pinned += 1
    assert pinned > 0
