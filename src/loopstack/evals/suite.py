"""Suite files: one YAML file that says what to evaluate (dataset x prompts x models) and how to judge it.

The schema is strict (``extra="forbid"``) so a typo is an error, not a silently ignored key; a malformed
file is reported with the file and the field path, e.g. ``suite.yaml: scorers[1].threshold: ...``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from loopstack.errors import InvalidInput
from loopstack.prompts._content import FieldError, check_params

_PROMPT_REF = re.compile(r"^(?P<name>[a-z0-9_.-]+)(?:@(?P<sel>[A-Za-z0-9_.-]+))?$")
_DATA_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")


def _request_params(value: Any) -> Any:
    """Model parameters: the names a model request knows (a typo is an error, not silently dropped)."""
    try:
        return check_params(value)
    except FieldError as exc:
        raise ValueError(exc.problem) from None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class MessageSpec(_Strict):
    """One chat message of an inline prompt (Jinja2 template)."""

    role: Literal["system", "user", "assistant"]
    content: str


class InlinePrompt(_Strict):
    """A prompt written in the suite itself instead of taken from the registry."""

    name: str = "inline"
    messages: list[MessageSpec] = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)

    _params = field_validator("params", mode="before")(_request_params)


class PromptRef(_Strict):
    """A registry prompt: ``name@label``, ``name@3`` (a version) or ``name`` (the latest version)."""

    name: str
    label: str | None = None
    version: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            return cls.parse(value).model_dump()
        return value

    @classmethod
    def parse(cls, text: str) -> PromptRef:
        m = _PROMPT_REF.match(text.strip())
        if m is None:
            raise ValueError(f"{text!r} is not a prompt reference (use name@label, name@3 or name)")
        sel = m.group("sel")
        if sel is None or sel == "latest":
            return cls(name=m.group("name"))
        if sel.isdigit():
            return cls(name=m.group("name"), version=int(sel))
        return cls(name=m.group("name"), label=sel)

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}@{self.version}"
        return f"{self.name}@{self.label}" if self.label else self.name


def _prompt_kind(value: Any) -> str:
    if isinstance(value, InlinePrompt) or (isinstance(value, dict) and "messages" in value):
        return "inline"
    return "ref"


#: a suite's prompt entry: a registry reference (text) or an inline prompt (a mapping with messages)
PromptEntry = Annotated[
    Annotated[PromptRef, Tag("ref")] | Annotated[InlinePrompt, Tag("inline")],
    Discriminator(_prompt_kind),
]


class ModelSpec(_Strict):
    """A model string with provider options (e.g. ``base_url`` of an OpenAI-compatible server)."""

    name: str
    options: dict[str, Any] = Field(default_factory=dict)


class ScorerConfig(_Strict):
    """A scorer, its parameters, the name its scores get and an optional pass threshold.

    ``scorer`` names a registered scorer (built in, from a plugin, or from the suite's
    ``scorers_module``); ``python: file.py:function`` takes a function from a local file instead.
    """

    scorer: str | None = None
    python: str | None = None
    """``path/to/file.py:function``, the path relative to the suite file."""
    name: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    threshold: float | None = None
    #: which statistic must reach the threshold: the mean, or the lower bound of its 95% CI (stricter)
    threshold_on: Literal["mean", "ci_low"] = "mean"

    @model_validator(mode="after")
    def _one_source(self) -> ScorerConfig:
        if (self.scorer is None) == (self.python is None):
            raise ValueError("give either `scorer: NAME` or `python: FILE.py:FUNCTION`")
        if self.python is not None:
            file, sep, func = self.python.rpartition(":")
            if not sep or not file.strip() or not func.strip().isidentifier():
                raise ValueError(f"python: {self.python!r} is not FILE.py:FUNCTION")
        return self

    @property
    def score_name(self) -> str:
        """The name the scores of this entry are stored and reported under."""
        if self.name:
            return self.name
        if self.scorer is not None:
            return self.scorer
        return str(self.python).rpartition(":")[2].strip()


class ColumnsSpec(_Strict):
    """For a file dataset: which columns hold what (every other column is an input variable)."""

    input: list[str] | None = None
    """Only these columns are input variables; the rest go to the item's metadata."""
    expected: str | list[str] = "expected"
    """The expected-output column, or several columns gathered into one object."""
    id: str = "id"
    split: str = "split"


class Suite(_Strict):
    """A parsed suite file. ``path`` is where it came from (relative paths resolve against its folder)."""

    name: str | None = None
    description: str | None = None
    dataset: str
    columns: ColumnsSpec | None = None
    split: str | None = None
    limit: int | None = Field(default=None, ge=1)
    prompts: list[PromptEntry] = Field(min_length=1)
    models: list[str | ModelSpec] = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    scorers: list[ScorerConfig] = Field(default_factory=list)
    scorers_module: list[str] = Field(default_factory=list)
    """Python files (relative to the suite) imported before the scorers are built: their ``@scorer``
    functions can then be named in ``scorers:`` like built-ins."""
    epochs: int = Field(default=1, ge=1, le=100)
    concurrency: int = Field(default=8, ge=1, le=1000)
    cache: bool = True
    timeout: float | None = Field(default=None, gt=0)
    path: Path | None = Field(default=None, exclude=True)

    _params = field_validator("params", mode="before")(_request_params)

    @field_validator("prompts", mode="before")
    @classmethod
    def _one_prompt(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("models", mode="before")
    @classmethod
    def _one_model(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("scorers_module", mode="before")
    @classmethod
    def _one_module(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("scorers", mode="before")
    @classmethod
    def _short_scorers(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        return [{"scorer": v} if isinstance(v, str) else v for v in value]

    @model_validator(mode="after")
    def _unique_score_names(self) -> Suite:
        seen: set[str] = set()
        for i, s in enumerate(self.scorers):
            if s.score_name in seen:
                raise ValueError(
                    f"scorers[{i}]: two scorers are named {s.score_name!r}; give one a distinct `name:`"
                )
            seen.add(s.score_name)
        return self

    # -- resolution helpers ---------------------------------------------------------------------------

    @property
    def model_names(self) -> list[str]:
        """The model strings of the matrix, in order."""
        return [m if isinstance(m, str) else m.name for m in self.models]

    def model_options(self, name: str) -> dict[str, Any]:
        """Provider options given for ``name`` in the suite (empty when given as a plain string)."""
        for m in self.models:
            if isinstance(m, ModelSpec) and m.name == name:
                return dict(m.options)
        return {}

    @property
    def display_name(self) -> str:
        """The suite's name, or its file's stem."""
        if self.name:
            return self.name
        return self.path.stem if self.path is not None else "suite"

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path is not None else Path.cwd()

    def dataset_file(self) -> Path | None:
        """The dataset as a file path (relative to the suite), or None when it names a stored dataset."""
        spec = self.dataset.strip()
        candidate = (self.base_dir / spec).expanduser()
        if candidate.is_file():
            return candidate
        if spec.lower().endswith(_DATA_SUFFIXES) or "/" in spec or "\\" in spec:
            where = f"{self.path.name}: " if self.path is not None else ""
            raise InvalidInput(f"{where}dataset: file {spec!r} not found (looked in {self.base_dir})")
        return None

    def _where(self) -> str:
        return f"{self.path.name}: " if self.path is not None else ""

    def import_module(self, relative: str, field: str) -> ModuleType:
        """Import a Python file named by the suite (relative to it); errors name the file and field."""
        path = (self.base_dir / relative.strip()).expanduser().resolve()
        if not path.is_file():
            raise InvalidInput(
                f"{self._where()}{field}: file {relative!r} not found (looked in {self.base_dir})"
            )
        return _import_file(path, f"{self._where()}{field}")

    def load_scorer_modules(self) -> None:
        """Import every ``scorers_module``, so the ``@scorer`` functions in them are registered."""
        for i, rel in enumerate(self.scorers_module):
            self.import_module(
                rel, f"scorers_module[{i}]" if len(self.scorers_module) > 1 else "scorers_module"
            )

    def python_scorer(self, index: int) -> Any:
        """The function that ``scorers[index].python`` names (``file.py:function``)."""
        ref = str(self.scorers[index].python)
        file, _, func = ref.rpartition(":")
        field = f"scorers[{index}].python"
        module = self.import_module(file, field)
        found = getattr(module, func.strip(), None)
        if not callable(found):
            defined = sorted(
                n
                for n, v in vars(module).items()
                if callable(v) and not n.startswith("_") and getattr(v, "__module__", None) == module.__name__
            )
            raise InvalidInput(
                f"{self._where()}{field}: {file} has no function {func.strip()!r}"
                f" (it defines: {', '.join(defined) or 'none'})"
            )
        return found

    def dataset_ref(self) -> tuple[str, int | None]:
        """A stored dataset as (name, version or None for the current one)."""
        name, _, version = self.dataset.strip().partition("@")
        if version and not version.isdigit():
            raise InvalidInput(f"dataset: version in {self.dataset!r} must be a number")
        return name, int(version) if version else None


def _import_file(path: Path, where: str) -> ModuleType:
    """Import ``path`` as a module, once per process and version of the file (its folder is importable
    while it loads, so it may import its neighbours)."""
    digest = hashlib.sha1(f"{path}:{path.stat().st_mtime_ns}".encode()).hexdigest()[:10]
    stem = re.sub(r"\W", "_", path.stem)
    name = f"loopstack_suite_{stem}_{digest}"
    loaded = sys.modules.get(name)
    if loaded is not None:
        return loaded
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InvalidInput(f"{where}: {path.name} is not an importable Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - a user's module may raise anything; name it, no traceback
        del sys.modules[name]
        raise InvalidInput(f"{where}: importing {path.name} failed: {type(exc).__name__}: {exc}") from None
    finally:
        sys.path.remove(str(path.parent))
    return module


def _format_loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("ref", "inline") or "[" in str(part):
            continue  # union branch names add nothing for a user
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _first_error(exc: ValidationError, filename: str) -> InvalidInput:
    errors = exc.errors()
    # With a union (prompts), pydantic reports every branch; the most specific (longest) path is the
    # one a user means to fix.
    err = max(errors, key=lambda e: len(e["loc"])) if errors else None
    if err is None:
        return InvalidInput(f"{filename}: invalid suite")
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown field (check the spelling; see docs/evals.md)"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return InvalidInput(f"{filename}: {_format_loc(tuple(err['loc']))}: {msg}{more}")


def parse_suite(data: Any, *, filename: str = "suite", path: Path | None = None) -> Suite:
    """Validate an already-loaded mapping as a suite; errors name ``filename`` and the field."""
    if not isinstance(data, dict):
        raise InvalidInput(f"{filename}: a suite must be a YAML mapping (dataset:, prompts:, models:, ...)")
    try:
        suite = Suite.model_validate(data)
    except ValidationError as exc:
        raise _first_error(exc, filename) from None
    suite.path = path
    return suite


def load_suite(path: str | Path) -> Suite:
    """Read and validate a suite file."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"suite file {str(p)!r} not found")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise InvalidInput(f"{p.name}{where}: {problem}") from None
    return parse_suite(data, filename=p.name, path=p.resolve())
