"""Prompts as code: read and write the prompt YAML format (docs/prompts.md).

Errors name the file and line (``prompts/triage.yaml:7: messages[1]: missing required field 'role'``).
Loading validates every document of every file before anything is pushed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from loopstack.errors import InvalidInput
from loopstack.prompts._content import (
    FieldError,
    check_label,
    check_messages,
    check_model,
    check_name,
    check_optional_text,
    check_params,
)
from loopstack.prompts._types import PromptSpec, PromptVersion, PushResult

if TYPE_CHECKING:
    from loopstack.prompts.registry import PromptRegistry

FIELDS = ("name", "description", "messages", "model", "params", "message", "labels")
REQUIRED = ("name", "messages")


def _natural(path: Path) -> list[Any]:
    """Sort key that puts ``triage-v2.yaml`` before ``triage-v10.yaml``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named directly, plus ``*.yaml``/``*.yml`` inside any directory named (in natural order, so
    ``triage-v2.yaml`` comes before ``triage-v10.yaml``: files that hold versions of one prompt are
    pushed oldest first)."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = [p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()]
            out.extend(sorted(found, key=_natural))
        elif path.is_file():
            out.append(path)
        else:
            raise InvalidInput(f"{path}: no such file or directory")
    return out


def load_prompt_files(paths: Iterable[str | Path]) -> list[PromptSpec]:
    """Every prompt defined in ``paths``, all validated (raises on the first bad one)."""
    specs: list[PromptSpec] = []
    for path in expand_paths(paths):
        specs.extend(load_prompt_text(_read(path), str(path)))
    return specs


def push_files(
    registry: PromptRegistry,
    paths: Iterable[str | Path],
    *,
    author: str | None = None,
    message: str | None = None,
    labels: Sequence[str] = (),
) -> list[tuple[PromptSpec, PushResult]]:
    """Sync prompt files into the registry: validate every file first, then push all in one transaction.

    ``message`` replaces the files' ``message`` fields; ``labels`` are moved in addition to theirs (to
    the last version given of each prompt, when several files hold versions of one prompt).
    """
    try:
        extra = tuple(check_label(lb, "--label") for lb in labels)
    except FieldError as exc:
        raise InvalidInput(str(exc)) from None
    loaded = load_prompt_files(paths)
    last = {s.name: i for i, s in enumerate(loaded)}  # --label moves to the last version of each prompt
    specs = [
        replace(
            s,
            message=message or s.message,
            labels=tuple(dict.fromkeys(s.labels + (extra if last[s.name] == i else ()))),
        )
        for i, s in enumerate(loaded)
    ]
    if not specs:
        raise InvalidInput("no prompt files given (expected *.yaml files or a folder of them)")
    return list(zip(specs, registry.push_many(specs, author=author), strict=True))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: cannot read: {exc}") from None


def load_prompt_text(text: str, filename: str = "<string>") -> list[PromptSpec]:
    """Parse the YAML documents in ``text`` (named ``filename`` in errors)."""
    loader = yaml.SafeLoader(text)
    specs: list[PromptSpec] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            data = loader.construct_document(node)
            if data is None:
                continue
            specs.append(_spec(data, node, filename))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = exc.problem or exc.context or "cannot parse"
        raise InvalidInput(f"{filename}{line}: invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{filename}: invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    if not specs:
        raise InvalidInput(f"{filename}: no prompt found (expected 'name' and 'messages')")
    return specs


def _spec(data: Any, node: yaml.Node, filename: str) -> PromptSpec:
    doc_line = node.start_mark.line + 1
    if not isinstance(data, dict):
        raise InvalidInput(f"{filename}:{doc_line}: a prompt must be a mapping with 'name' and 'messages'")
    for key in data:
        if key not in FIELDS:
            line = _line_of(node, [key]) or doc_line
            expected = ", ".join(FIELDS)
            raise InvalidInput(f"{filename}:{line}: unknown field {key!r} (expected one of {expected})")
    for key in REQUIRED:
        if key not in data:
            raise InvalidInput(f"{filename}:{doc_line}: missing required field '{key}'")
    try:
        raw_labels = data.get("labels") or []
        if isinstance(raw_labels, str):
            raw_labels = [raw_labels]
        if not isinstance(raw_labels, list):
            raise FieldError("labels", "must be a list of label names")
        return PromptSpec(
            name=check_name(data["name"]),
            messages=check_messages(data["messages"]),
            model=check_model(data.get("model")),
            params=check_params(data.get("params")),
            description=check_optional_text(data.get("description"), "description"),
            message=check_optional_text(data.get("message"), "message"),
            labels=tuple(check_label(lb, f"labels[{i}]") for i, lb in enumerate(raw_labels)),
            source=f"{filename}:{doc_line}",
        )
    except FieldError as exc:
        line = _line_of(node, _path_parts(exc.path)) or doc_line
        raise InvalidInput(f"{filename}:{line}: {exc}") from None


def _path_parts(path: str) -> list[str | int]:
    """``messages[1].role`` -> ``['messages', 1, 'role']``."""
    parts: list[str | int] = []
    for piece in path.replace("]", "").split("."):
        name, *indexes = piece.split("[")
        if name:
            parts.append(name)
        parts.extend(int(i) for i in indexes if i.isdigit())
    return parts


def _line_of(node: yaml.Node, parts: Sequence[str | int]) -> int | None:
    """The 1-based line of the deepest node along ``parts`` that exists."""
    line = None
    current: yaml.Node | None = node
    for part in parts:
        nxt: yaml.Node | None = None
        if isinstance(current, yaml.MappingNode) and isinstance(part, str):
            for k, v in current.value:
                if getattr(k, "value", None) == part:
                    line = k.start_mark.line + 1
                    nxt = v
                    break
        elif isinstance(current, yaml.SequenceNode) and isinstance(part, int) and part < len(current.value):
            nxt = current.value[part]
            line = nxt.start_mark.line + 1
        if nxt is None:
            break
        current = nxt
    return line


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as ``|`` blocks and indented lists: pulled prompts read like hand-written ones."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump_prompt(pv: PromptVersion) -> str:
    """A version in the prompt YAML format; pushing it back yields the same version (no new row).

    Labels and the commit message are left out on purpose: editing a pulled file and pushing it must not
    silently move ``production`` or reuse an old commit message.
    """
    doc: dict[str, Any] = {"name": pv.name}
    if pv.description:
        doc["description"] = pv.description
    doc["messages"] = [{"role": m["role"], "content": m["content"]} for m in pv.messages]
    if pv.model is not None:
        doc["model"] = pv.model
    if pv.params:
        doc["params"] = pv.params
    header = f"# {pv.ref} (content hash {pv.content_hash[:12]})\n"
    body = yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return header + body
