"""The prompt registry: push immutable versions, move labels, fetch, diff, roll back, read history.

``PromptRegistry(store, project)`` is the one library API behind the CLI, the SDK's local source and
the server's REST endpoints, so all three write the same rows.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Row, select
from sqlalchemy.exc import IntegrityError

from loopstack.errors import InvalidInput, NotFound
from loopstack.prompts._content import (
    FieldError,
    check_label,
    check_messages,
    check_model,
    check_name,
    check_optional_text,
    check_params,
)
from loopstack.prompts._types import (
    DEFAULT_LABEL,
    LATEST,
    HistoryEntry,
    LabelMove,
    PromptSpec,
    PromptSummary,
    PromptVersion,
    PushResult,
)
from loopstack.prompts.diff import PromptDiff, diff_versions
from loopstack.store import Store, utcnow
from loopstack.store import prompts as repo
from loopstack.store.tables import projects

_PUSH_ATTEMPTS = 5


def version_from_row(
    row: Row[Any], labels: Sequence[str] = (), fetched_by: str | None = None
) -> PromptVersion:
    """A PromptVersion from a row with the columns of ``repo.resolve_query``."""
    config = row.config or {}
    return PromptVersion(
        name=row.name,
        version=int(row.version),
        messages=[{"role": m["role"], "content": m["content"]} for m in row.messages],
        model=config.get("model"),
        params=dict(config.get("params") or {}),
        content_hash=row.content_hash,
        message=row.message,
        author=row.author,
        created_at=row.created_at,
        description=row.description,
        labels=list(labels),
        label=fetched_by,
    )


def parse_ref(ref: str | int) -> tuple[str | None, int | None]:
    """``3``/``"3"``/``"v3"`` -> version 3; anything else is a label (``latest`` included)."""
    if isinstance(ref, int):
        return None, ref
    text = ref.strip()
    digits = text[1:] if text[:1] in ("v", "V") else text
    if digits.isdigit():
        return None, int(digits)
    return text, None


class PromptRegistry:
    """Versions and labels of the prompts of one project."""

    def __init__(self, store: Store, project: str = "default") -> None:
        self.store = store
        self.project = project

    # -- writing -------------------------------------------------------------------------------

    def push(
        self,
        name: str,
        messages: list[dict[str, str]],
        *,
        model: str | None = None,
        params: dict[str, Any] | None = None,
        description: str | None = None,
        message: str | None = None,
        author: str | None = None,
        labels: Iterable[str] = (),
    ) -> PushResult:
        """Store the content as a new version, or return the existing version with identical content."""
        try:
            spec = PromptSpec(
                name=check_name(name),
                messages=check_messages(messages),
                model=check_model(model),
                params=check_params(params),
                description=check_optional_text(description, "description"),
                message=check_optional_text(message, "message"),
                labels=tuple(check_label(lb, "labels") for lb in labels),
            )
        except FieldError as exc:
            raise InvalidInput(f"prompt {name!r}: {exc}") from None
        return self.push_many([spec], author=author)[0]

    def push_many(self, specs: Sequence[PromptSpec], *, author: str | None = None) -> list[PushResult]:
        """Push several prompts in ONE transaction: all are stored or none is.

        Several specs may be versions of one prompt (``triage-v1.yaml``, ``triage-v2.yaml``): they are
        pushed in the order given, each becoming a version unless its content is already stored. One
        label given to two of them is an error (which one should it point at?). Prompts are locked in
        name order so two concurrent multi-prompt pushes cannot deadlock.
        """
        _check_labels_once(specs)
        project_id = self.store.project_id(self.project)
        # A stable sort: versions of one prompt keep their order; the locks are taken in name order.
        order = sorted(range(len(specs)), key=lambda i: specs[i].name)
        for attempt in range(_PUSH_ATTEMPTS):
            try:
                with self.store.write() as conn:
                    done = {i: self._push_one(conn, project_id, specs[i], author) for i in order}
                return [done[i] for i in range(len(specs))]
            except IntegrityError:
                # A concurrent pusher won a race the row lock did not cover; the retry sees its row.
                if attempt == _PUSH_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _push_one(
        self, conn: Connection, project_id: str, spec: PromptSpec, author: str | None
    ) -> PushResult:
        now = utcnow()
        pid = repo.lock_or_create_prompt(conn, project_id, spec.name, now)
        version = repo.version_with_hash(conn, pid, spec.content_hash)
        created = version is None
        if version is None:
            top = repo.max_version(conn, pid)
            version = top + 1
            # A push without a description keeps the one the prompt had (the latest version's).
            description = spec.description
            if description is None and top:
                description = repo.version_description(conn, pid, top)
            repo.insert_version(
                conn,
                pid,
                version,
                messages=spec.messages,
                config={"model": spec.model, "params": spec.params},
                content_hash=spec.content_hash,
                message=spec.message,
                description=description,
                author=author,
                now=now,
            )
        moves = []
        for label in spec.labels:
            before = repo.move_label(conn, pid, label, version, author=author, message=spec.message, now=now)
            if before != version:
                moves.append(LabelMove(spec.name, label, before, version))
        return PushResult(spec.name, version, created, moves)

    def set_label(
        self,
        name: str,
        label: str,
        target: str | int,
        *,
        author: str | None = None,
        message: str | None = None,
        allow_lookalike: bool = True,
    ) -> LabelMove:
        """Point ``label`` at ``target`` (a version number, ``latest``, or another label's version).

        ``from_version == to_version`` in the result means the label already pointed there. With
        ``allow_lookalike=False`` (the CLI's default) a label the prompt does not have yet is refused
        when its name looks like one it has (``prod`` when ``production`` exists): a typo must not
        create a second label that nothing reads.
        """
        try:
            check_label(label)
        except FieldError as exc:
            raise InvalidInput(f"prompt '{name}': {exc}") from None
        project_id = self.store.project_id(self.project)
        with self.store.write() as conn:
            pid = self._require_prompt(conn, project_id, name, for_update=True)
            if not allow_lookalike:
                _refuse_lookalike(name, label, repo.labels(conn, pid))
            version = self._resolve_version_number(conn, pid, name, target, for_label=label)
            before = repo.move_label(conn, pid, label, version, author=author, message=message, now=utcnow())
        return LabelMove(name, label, before, version)

    def rollback(
        self, name: str, label: str = DEFAULT_LABEL, *, author: str | None = None, message: str | None = None
    ) -> LabelMove:
        """Move ``label`` back to the version it pointed at before its last move."""
        project_id = self.store.project_id(self.project)
        with self.store.write() as conn:
            pid = self._require_prompt(conn, project_id, name, for_update=True)
            last = repo.last_label_event(conn, pid, label)
            if last is None:
                raise NotFound(f"prompt '{name}' has no '{label}' label to roll back")
            if last.from_version is None:
                raise InvalidInput(
                    f"label '{label}' of prompt '{name}' has only ever pointed at v{last.to_version}; "
                    "there is no earlier version to roll back to"
                )
            target = int(last.from_version)
            current = repo.labels(conn, pid).get(label)
            before = repo.move_label(
                conn,
                pid,
                label,
                target,
                author=author,
                message=message or f"rollback from v{current}",
                now=utcnow(),
            )
        return LabelMove(name, label, before, target)

    # -- reading -------------------------------------------------------------------------------

    def get(self, name: str, *, label: str | None = None, version: int | None = None) -> PromptVersion:
        """A version by number, by label (``latest`` = highest), or the ``production`` one by default."""
        with self.store.read() as conn:
            return self.get_on(conn, name, label=label, version=version)

    def get_on(
        self, conn: Connection, name: str, *, label: str | None = None, version: int | None = None
    ) -> PromptVersion:
        """``get`` on a connection the caller holds (the SDK's local source keeps one open)."""
        if label is not None and version is not None:
            raise InvalidInput(f"prompt '{name}': give a label or a version, not both")
        if version is None and label is None:
            label = DEFAULT_LABEL
        stmt = repo.resolve_query(
            self.project, name, label=None if label == LATEST else label, version=version
        )
        row = conn.execute(stmt).first()
        if row is None:
            raise self._explain_missing(conn, name, label, version)
        found = version_from_row(row, fetched_by=label)
        if version is None and label not in (None, LATEST):
            found = self._with_rollout(conn, found, str(label))
        return found

    def _with_rollout(self, conn: Connection, found: PromptVersion, label: str) -> PromptVersion:
        """The label's version, carrying the arms of the rollout running on it (if any)."""
        from dataclasses import replace

        from loopstack.prompts._rollout import RolloutArms, control_from
        from loopstack.store.rollouts import running_for_fetch

        ro = running_for_fetch(conn, self.project, found.name, label)
        if ro is None or ro.control_version != found.version:
            return found
        cand = conn.execute(
            repo.resolve_query(self.project, found.name, label=None, version=int(ro.candidate_version))
        ).first()
        if cand is None:
            return found
        steps = [int(s) for s in ro.steps]
        arms = RolloutArms(
            id=str(ro.id),
            salt=str(ro.salt),
            step=int(ro.step_index),
            candidate_pct=steps[int(ro.step_index)],
            control_from_pct=control_from(steps),
            candidate=version_from_row(cand),
        )
        return replace(found, rollout=arms)

    def resolve(self, name: str, ref: str | int) -> PromptVersion:
        """A version by reference: ``3``, ``v3``, ``latest`` or a label name."""
        label, version = parse_ref(ref)
        return self.get(name, label=label, version=version)

    def versions(self, name: str) -> list[PromptVersion]:
        """Every version of a prompt, oldest first, each with the labels pointing at it."""
        with self.store.read() as conn:
            pid = self._require_prompt(conn, self._project_id(conn), name)
            labels = repo.labels(conn, pid)
            rows = repo.version_rows(conn, pid)
        latest = max((int(r.version) for r in rows), default=None)
        out = []
        for r in rows:
            names = [lb for lb, v in labels.items() if v == r.version]
            if r.version == latest:
                names.append(LATEST)
            out.append(version_from_row(r, names))
        return out

    def labels(self, name: str) -> dict[str, int]:
        """The prompt's labels and the versions they point at (``latest`` not included)."""
        with self.store.read() as conn:
            return repo.labels(conn, self._require_prompt(conn, self._project_id(conn), name))

    def list_prompts(self) -> list[PromptSummary]:
        """Every prompt of the project with its latest version and labels."""
        with self.store.read() as conn:
            project_id = self._project_id(conn)
            if project_id is None:
                return []
            rows = repo.list_rows(conn, project_id)
            labels = repo.all_labels(conn, project_id)
        return [
            PromptSummary(
                r.name,
                r.description,
                None if r.latest is None else int(r.latest),
                r.updated_at,
                labels.get(str(r.id), {}),
            )
            for r in rows
        ]

    def history(self, name: str) -> list[HistoryEntry]:
        """Versions pushed and label moves, newest first."""
        with self.store.read() as conn:
            pid = self._require_prompt(conn, self._project_id(conn), name)
            rows = repo.version_rows(conn, pid)
            events = repo.label_events(conn, pid)
        entries = [
            (r.created_at, 0, HistoryEntry("version", r.created_at, r.author, r.message, version=r.version))
            for r in rows
        ]
        entries += [
            (
                e.created_at,
                1,
                HistoryEntry(
                    "label",
                    e.created_at,
                    e.author,
                    e.message,
                    label=e.label,
                    from_version=e.from_version,
                    to_version=e.to_version,
                ),
            )
            for e in events
        ]
        # Stable sort: same-instant entries keep "version pushed, then labels moved" order.
        entries.sort(key=lambda t: (t[0], t[1]))
        return [e for _, _, e in reversed(entries)]

    def diff(self, name: str, before: str | int, after: str | int) -> PromptDiff:
        """What changed from ``before`` to ``after`` (version numbers or labels)."""
        return diff_versions(self.resolve(name, before), self.resolve(name, after))

    # -- helpers -------------------------------------------------------------------------------

    def _project_id(self, conn: Connection) -> str | None:
        found = conn.execute(select(projects.c.id).where(projects.c.name == self.project)).scalar()
        return None if found is None else str(found)

    def _require_prompt(
        self, conn: Connection, project_id: str | None, name: str, *, for_update: bool = False
    ) -> str:
        pid = None if project_id is None else repo.prompt_id(conn, project_id, name, for_update=for_update)
        if pid is None:
            raise self._unknown_prompt(conn, project_id, name)
        return pid

    def _unknown_prompt(self, conn: Connection, project_id: str | None, name: str) -> NotFound:
        known = [] if project_id is None else repo.prompt_names(conn, project_id)
        where = f"unknown prompt '{name}' in project '{self.project}'"
        if not known:
            return NotFound(f"{where} (no prompts yet; push one with `loopstack prompt push FILE.yaml`)")
        shown = ", ".join(known[:10]) + (", …" if len(known) > 10 else "")
        return NotFound(f"{where} (known: {shown})")

    def _explain_missing(
        self, conn: Connection, name: str, label: str | None, version: int | None
    ) -> NotFound:
        project_id = self._project_id(conn)
        pid = None if project_id is None else repo.prompt_id(conn, project_id, name)
        if pid is None:
            return self._unknown_prompt(conn, project_id, name)
        span = repo.version_range(conn, pid)
        if span is None:
            return NotFound(f"prompt '{name}' has no versions yet")
        exist = _existing(span)
        if version is not None:
            return NotFound(f"prompt '{name}' has no version {version}; {exist}")
        return NotFound(
            f"prompt '{name}' has no '{label}' label; {exist} — label one with "
            f"`loopstack prompt label {name} {label} {span[1]}`"
        )

    def _resolve_version_number(
        self, conn: Connection, pid: str, name: str, target: str | int, *, for_label: str
    ) -> int:
        label, version = parse_ref(target)
        if version is not None:
            if not repo.version_exists(conn, pid, version):
                exist = _existing(repo.version_range(conn, pid))
                raise NotFound(
                    f"cannot label {name}@{version} as '{for_label}': prompt '{name}' has no version "
                    f"{version}; {exist}"
                )
            return version
        if label == LATEST:
            top = repo.max_version(conn, pid)
            if top == 0:
                raise NotFound(f"prompt '{name}' has no versions yet")
            return top
        found = repo.labels(conn, pid).get(str(label))
        if found is None:
            raise NotFound(f"prompt '{name}' has no '{label}' label (give a version number or a label)")
        return found


def _check_labels_once(specs: Sequence[PromptSpec]) -> None:
    """Each label of a prompt is given by at most one of the specs pushed together."""
    given: dict[tuple[str, str], PromptSpec] = {}
    for spec in specs:
        for label in spec.labels:
            first = given.setdefault((spec.name, label), spec)
            if first is not spec:
                where = " and ".join(s for s in (first.source, spec.source) if s)
                raise InvalidInput(
                    f"label '{label}' of prompt '{spec.name}' is given twice{': ' + where if where else ''}"
                    " (a label points at one version)"
                )


def lookalike_label(label: str, existing: Iterable[str]) -> str | None:
    """The existing label that ``label`` is probably a typo or abbreviation of, if any."""
    others = [e for e in existing if e != label]
    low = label.lower()
    for e in others:
        if e.lower() == low or (len(low) >= 3 and e.lower().startswith(low)):  # a case slip, an abbreviation
            return e
    close = difflib.get_close_matches(low, [e.lower() for e in others], n=1, cutoff=0.65)
    return next((e for e in others if close and e.lower() == close[0]), None)


def _refuse_lookalike(name: str, label: str, labels: dict[str, int]) -> None:
    if label in labels:
        return
    similar = lookalike_label(label, [*labels, DEFAULT_LABEL])
    if similar is not None:
        raise InvalidInput(
            f"prompt '{name}' has no label '{label}' (did you mean '{similar}'?); "
            f"to create a new label '{label}' anyway, add --new"
        )


def _existing(span: tuple[int, int] | None) -> str:
    if span is None:
        return "it has no versions"
    return f"version {span[0]} exists" if span[0] == span[1] else f"versions {span[0]}..{span[1]} exist"
