"""A small Dockerfile reader for the tests: stages, their instructions, ENV, exec-form arrays.

It understands what this repository's Dockerfile uses (line continuations, comments, parser
directives, global `ARG`s in `FROM`, `FROM image AS name`, `KEY=value` ENV pairs); it is not a
general BuildKit parser.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str

    def flags_and_rest(self) -> tuple[dict[str, str], str]:
        """Split leading ``--flag=value`` options (COPY --from, RUN --mount) from the rest."""
        flags: dict[str, str] = {}
        rest = self.arguments
        while rest.startswith("--"):
            token, _, rest = rest.partition(" ")
            name, _, value = token[2:].partition("=")
            flags[name] = value
            rest = rest.lstrip()
        return flags, rest

    def exec_form(self) -> list[str]:
        """The JSON array of an exec-form ENTRYPOINT/CMD (raises when shell form)."""
        value = json.loads(self.arguments)
        if not isinstance(value, list):
            raise ValueError(f"{self.keyword} is not in exec form: {self.arguments}")
        return value


@dataclass
class Stage:
    image: str
    name: str
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        if not found:
            raise LookupError(f"stage {self.name!r} has no {keyword}")
        return found[-1]

    def env(self) -> dict[str, str]:
        """ENV set in this stage itself (later values win)."""
        values: dict[str, str] = {}
        for instruction in self.all("ENV"):
            for pair in shlex.split(instruction.arguments):
                key, _, value = pair.partition("=")
                values[key] = value
        return values


@dataclass
class Dockerfile:
    stages: list[Stage]
    arguments: dict[str, str] = field(default_factory=dict)
    """The ``ARG NAME=default`` lines before the first ``FROM`` (usable in ``FROM``)."""

    @classmethod
    def parse(cls, path: Path) -> Dockerfile:
        stages: list[Stage] = []
        arguments: dict[str, str] = {}
        for line in _logical_lines(path.read_text()):
            keyword, _, rest = line.partition(" ")
            instruction = Instruction(keyword.upper(), rest.strip())
            if instruction.keyword == "ARG" and not stages:
                name, _, default = instruction.arguments.partition("=")
                arguments[name] = default
            elif instruction.keyword == "FROM":
                words = instruction.arguments.split()
                name = (
                    words[2] if len(words) == 3 and words[1].upper() == "AS" else str(len(stages))
                )
                image = re.sub(r"\$\{(\w+)\}", lambda m: arguments[m[1]], words[0])
                stages.append(Stage(image=image, name=name))
            else:
                stages[-1].instructions.append(instruction)
        return cls(stages, arguments)

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise LookupError(f"no stage named {name!r}")

    @property
    def final(self) -> Stage:
        """The stage `docker build` produces without --target."""
        return self.stages[-1]

    def inherited_env(self, stage: Stage) -> dict[str, str]:
        """ENV of a stage including what it inherits through `FROM <earlier stage>`."""
        names = {s.name: s for s in self.stages}
        chain = [stage]
        while chain[-1].image in names:
            chain.append(names[chain[-1].image])
        env: dict[str, str] = {}
        for link in reversed(chain):
            env.update(link.env())
        return env


def _logical_lines(text: str):
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        yield " ".join((pending + stripped).split())
        pending = ""
