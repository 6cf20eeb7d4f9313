"""The schema: one SQLAlchemy table per entity of the data model (docs/architecture.md §3).

Tables are declared with SQLAlchemy Core so repositories can issue lean, portable statements; Alembic
migrations in ``store/migrations`` create them, and a test checks the two never drift.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from loopstack.store._types import JSONType, UTCDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

ID = String(32)


def _project_fk() -> Column[str]:
    return Column("project_id", ID, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)


projects = Table(
    "projects",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", ID, primary_key=True),
    _project_fk(),
    Column("name", String(200), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("key_hash", String(128), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
)

prompts = Table(
    "prompts",
    metadata,
    Column("id", ID, primary_key=True),
    _project_fk(),
    Column("name", String(200), nullable=False),
    Column("description", Text),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("project_id", "name"),
)

prompt_versions = Table(
    "prompt_versions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("prompt_id", ID, ForeignKey("prompts.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("messages", JSONType, nullable=False),
    Column("config", JSONType, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("message", Text),
    Column("author", String(200)),
    Column("created_at", UTCDateTime, nullable=False),
    # What this version is for, as pushed with it (prompts.description is the legacy per-prompt copy).
    Column("description", Text),
    UniqueConstraint("prompt_id", "version"),
    Index(None, "prompt_id", "content_hash"),
)

prompt_labels = Table(
    "prompt_labels",
    metadata,
    Column("id", ID, primary_key=True),
    Column("prompt_id", ID, ForeignKey("prompts.id", ondelete="CASCADE"), nullable=False),
    Column("label", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(200)),
    UniqueConstraint("prompt_id", "label"),
)

# Every label move, so history can say who promoted or rolled back what, and when.
prompt_label_events = Table(
    "prompt_label_events",
    metadata,
    Column("id", ID, primary_key=True),
    Column("prompt_id", ID, ForeignKey("prompts.id", ondelete="CASCADE"), nullable=False),
    Column("label", String(100), nullable=False),
    Column("from_version", Integer),
    Column("to_version", Integer),
    Column("author", String(200)),
    Column("message", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "prompt_id", "created_at"),
)

datasets = Table(
    "datasets",
    metadata,
    Column("id", ID, primary_key=True),
    _project_fk(),
    Column("name", String(200), nullable=False),
    Column("description", Text),
    # Incremented on every change; items carry the version range they were valid in.
    Column("version", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("project_id", "name"),
)

dataset_items = Table(
    "dataset_items",
    metadata,
    Column("id", ID, primary_key=True),
    Column("dataset_id", ID, ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    # Stable logical id of the item across its revisions (a row is one revision).
    Column("item_key", String(200), nullable=False),
    Column("input", JSONType, nullable=False),
    Column("expected", JSONType),
    Column("metadata", JSONType),
    Column("split", String(50)),
    Column("cluster", String(200)),
    Column("source_trace_id", String(32)),
    Column("source_span_id", String(16)),
    # Dataset versions [valid_from, valid_to) in which this revision is current; valid_to NULL = now.
    Column("valid_from", Integer, nullable=False),
    Column("valid_to", Integer),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "dataset_id", "valid_to"),
    Index(None, "dataset_id", "item_key"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", ID, primary_key=True),
    _project_fk(),
    Column("name", String(200)),
    Column("suite", String(200)),
    # Runs started by one suite invocation share a group id (the prompt x model matrix).
    Column("group_id", ID),
    Column("status", String(20), nullable=False),
    Column("prompt_name", String(200)),
    Column("prompt_version", Integer),
    Column("model", String(300)),
    Column("dataset_id", ID, ForeignKey("datasets.id", ondelete="SET NULL")),
    Column("dataset_version", Integer),
    Column("config", JSONType, nullable=False),
    Column("git_sha", String(64)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Index(None, "project_id", "created_at"),
)

run_items = Table(
    "run_items",
    metadata,
    Column("id", ID, primary_key=True),
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("dataset_item_id", ID),
    Column("item_key", String(200), nullable=False),
    # The item's cluster key (items that share one are not independent: clustered standard errors).
    Column("cluster", String(200)),
    Column("epoch", Integer, nullable=False, default=0),
    Column("input", JSONType, nullable=False),
    Column("expected", JSONType),
    Column("output", Text),
    Column("error", Text),
    Column("latency_ms", Float),
    Column("input_tokens", Integer),
    Column("output_tokens", Integer),
    Column("cost", Float),
    Column("cached", Boolean, nullable=False, default=False),
    Column("trace_id", String(32)),
    Column("span_id", String(16)),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("run_id", "item_key", "epoch"),
)

# One denormalised row per OpenTelemetry span: what dashboards and filters read without joins.
spans = Table(
    "spans",
    metadata,
    Column("id", ID, primary_key=True),
    _project_fk(),
    Column("trace_id", String(32), nullable=False),
    Column("span_id", String(16), nullable=False),
    Column("parent_span_id", String(16)),
    Column("name", String(500), nullable=False),
    Column("kind", String(30)),
    Column("start_time", UTCDateTime, nullable=False),
    Column("end_time", UTCDateTime),
    Column("duration_ms", Float),
    Column("status_code", String(10), nullable=False, default="UNSET"),
    Column("status_message", Text),
    Column("service_name", String(200)),
    Column("model", String(300)),
    Column("provider", String(100)),
    Column("input_tokens", Integer),
    Column("output_tokens", Integer),
    Column("cache_read_tokens", Integer),
    Column("reasoning_tokens", Integer),
    Column("cost", Float),
    Column("input", Text),
    Column("output", Text),
    Column("prompt_name", String(200)),
    Column("prompt_version", Integer),
    Column("session_id", String(200)),
    Column("user_id", String(200)),
    Column("tags", JSONType),
    Column("attributes", JSONType),
    Column("resource", JSONType),
    Column("events", JSONType),
    Column("ingested_at", UTCDateTime, nullable=False),
    # "eval" for eval-run traffic, else the resource's deployment.environment (default "production"):
    # production views leave evals out (store/environments.py).
    Column("environment", String(50), nullable=False, default="production", server_default="production"),
    UniqueConstraint("project_id", "trace_id", "span_id"),
    Index(None, "project_id", "start_time"),
    Index(None, "project_id", "model", "start_time"),
    Index(None, "project_id", "prompt_name", "prompt_version"),
    Index(None, "project_id", "session_id"),
    Index(None, "project_id", "user_id"),
    Index(None, "project_id", "environment", "start_time"),
    # The dashboard rollups read newly ingested spans. Ingest time leads so that no query filtering on
    # project alone is ever planned through this index (SQLite without statistics would pick it).
    Index(None, "ingested_at", "project_id"),
)

# Every judgement: user feedback, human review, LLM judges, code scorers.
scores = Table(
    "scores",
    metadata,
    Column("id", ID, primary_key=True),
    _project_fk(),
    Column("target_type", String(20), nullable=False),  # span | trace | run_item
    Column("trace_id", String(32)),
    Column("span_id", String(16)),
    Column("run_id", ID),
    Column("run_item_id", ID),
    Column("name", String(200), nullable=False),
    Column("data_type", String(20), nullable=False),  # numeric | boolean | categorical | text
    Column("value", Float),
    Column("string_value", Text),
    Column("source", String(30), nullable=False),  # human | llm | code | api | user-feedback
    Column("author", String(200)),
    Column("comment", Text),
    Column("scorer_version", String(50)),
    Column("params", JSONType),
    Column("error", Text),
    Column("metadata", JSONType),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "project_id", "trace_id"),
    Index(None, "run_id", "name"),
    Index(None, "run_item_id"),
    Index(None, "project_id", "name", "created_at"),
    # Covering index for the dashboard's scan of a window of scores (no lookups into the table).
    Index(None, "project_id", "created_at", "target_type", "source", "name", "value"),
)

annotation_queue = Table(
    "annotation_queue",
    metadata,
    Column("id", ID, primary_key=True),
    _project_fk(),
    Column("queue", String(200), nullable=False, default="default"),
    Column("target_type", String(20), nullable=False),  # span | trace | run_item | dataset_item
    Column("target_id", String(64), nullable=False),
    Column("trace_id", String(32)),
    Column("status", String(20), nullable=False, default="pending"),  # pending | locked | done
    Column("locked_by", String(200)),
    Column("locked_until", UTCDateTime),
    Column("payload", JSONType),
    Column("created_at", UTCDateTime, nullable=False),
    Column("completed_at", UTCDateTime),
    Index(None, "project_id", "queue", "status"),
)

# Persistent model response cache (models/cache.py): key = hash of provider, model, messages, params, epoch.
model_cache = Table(
    "model_cache",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("model", String(300), nullable=False),
    Column("request", JSONType, nullable=False),
    Column("response", JSONType, nullable=False),
    Column("hits", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_hit_at", UTCDateTime),
)

# Dashboard rollups (monitor/rollups.py): per hour, model and prompt version, the request count,
# errors, tokens, cost and a latency histogram, folded in incrementally from spans ingested since the
# project's watermark. A 30-day dashboard reads these few thousand rows instead of a million spans.
span_rollups = Table(
    "span_rollups",
    metadata,
    Column("project_id", ID, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("hour", Integer, primary_key=True),  # Unix time // 3600
    Column("model", String(300), primary_key=True),
    Column("prompt_name", String(200), primary_key=True),  # "" when the call had no prompt
    Column("prompt_version", Integer, primary_key=True),  # 0 when the call had no prompt version
    Column("environment", String(50), primary_key=True),  # spans.environment
    Column("requests", Integer, nullable=False),
    Column("errors", Integer, nullable=False),
    Column("input_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("cost", Float, nullable=False),
    Column("latency_hist", Text, nullable=False),  # "bin:count,..." (log-spaced bins, monitor/aggregates.py)
)

span_rollups_daily = Table(
    "span_rollups_daily",
    metadata,
    Column("project_id", ID, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("day", Integer, primary_key=True),  # Unix time // 86400: the sum of that day's hourly rows
    Column("model", String(300), primary_key=True),
    Column("prompt_name", String(200), primary_key=True),
    Column("prompt_version", Integer, primary_key=True),
    Column("environment", String(50), primary_key=True),
    Column("requests", Integer, nullable=False),
    Column("errors", Integer, nullable=False),
    Column("input_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("cost", Float, nullable=False),
    Column("latency_hist", Text, nullable=False),
)

rollup_watermarks = Table(
    "rollup_watermarks",
    metadata,
    Column("project_id", ID, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("ingested_until", UTCDateTime, nullable=False),
)

# --- safety: project settings (issue 13) ---

project_settings = Table(
    "project_settings",
    metadata,
    Column("project_id", ID, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(100), primary_key=True),  # e.g. pii.ingest, pii.external, pii.config
    Column("value", JSONType, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
# --- experiment tracking (issue 14) ---
run_tags = Table(
    "run_tags",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("tag", String(100), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "tag"),
)

run_notes = Table(
    "run_notes",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("note", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Derived from run_items + scores (recomputed by evals/experiments.py whenever a run's results are
# collected), so the runs table can filter and sort on a metric across thousands of runs.
run_metrics = Table(
    "run_metrics",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(200), primary_key=True),
    Column("kind", String(10), nullable=False),  # score | run (cost, latency_ms, errors, items)
    Column("mean", Float),
    Column("ci_low", Float),
    Column("ci_high", Float),
    Column("n", Integer, nullable=False),
    Column("errors", Integer, nullable=False),
    Column("scorer_version", String(50)),
    Column("updated_at", UTCDateTime, nullable=False),
    Index(None, "name", "mean"),
)

# --- monitoring: online evaluators and alerts (issue 12) ---

# An online evaluator: a span filter, a trace-id-hash sample rate and scorers, run by the server's
# worker on spans behind the ingest watermark. ``version`` grows on every edit; scores carry it.
evaluators = Table(
    "evaluators",
    metadata,
    Column("id", ID, primary_key=True),
    _project_fk(),
    Column("name", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("level", String(10), nullable=False),  # span | trace
    Column("filter", JSONType, nullable=False),
    Column("sample_rate", Float, nullable=False),
    Column("scorers", JSONType, nullable=False),  # [{"name": ..., "params": {...}}]
    Column("on_feedback", Boolean, nullable=False),
    Column("enabled", Boolean, nullable=False),
    # Where live evaluation has read up to: (ingested_at, span row id) of the last span seen.
    Column("cursor_at", UTCDateTime),
    Column("cursor_id", ID),
    Column("feedback_cursor_at", UTCDateTime),  # scores.created_at of the last feedback read
    # Health: what happened to the targets it saw (recomputable from scores, kept for a cheap read).
    Column("evaluated", Integer, nullable=False),
    Column("skipped", Integer, nullable=False),
    Column("errored", Integer, nullable=False),
    Column("shed", Integer, nullable=False),
    Column("error_reasons", JSONType, nullable=False),  # reason -> count
    Column("last_error", Text),
    Column("lag_s", Float),
    Column("backfill", JSONType),  # a requested backfill: range, keyset cursor, progress
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("project_id", "name"),
)

# An alert rule over rolling windows of spans or scores, with its decision state.
alert_rules = Table(
    "alert_rules",
    metadata,
    Column("id", ID, primary_key=True),
    _project_fk(),
    Column("name", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("spec", JSONType, nullable=False),  # metric, filter, window, thresholds, channels (monitor/alerts)
    Column("enabled", Boolean, nullable=False),
    Column("state", String(10), nullable=False),  # ok | firing
    Column("breach_streak", Integer, nullable=False),
    Column("clear_streak", Integer, nullable=False),
    Column("last_window_end", UTCDateTime),  # the end of the last window decided
    Column("last_value", Float),
    Column("last_samples", Integer),
    Column("skipped_windows", Integer, nullable=False),  # windows passed over when the worker fell behind
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("project_id", "name"),
)

# Each firing and resolution of a rule.
alert_events = Table(
    "alert_events",
    metadata,
    Column("id", ID, primary_key=True),
    _project_fk(),
    Column("rule_id", ID, ForeignKey("alert_rules.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(10), nullable=False),  # fired | resolved
    Column("value", Float),
    Column("samples", Integer),
    Column("window_start", UTCDateTime, nullable=False),
    Column("window_end", UTCDateTime, nullable=False),
    Column("message", Text, nullable=False),
    Column("details", JSONType),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "project_id", "created_at"),
)

# One notification of an event on one channel: retried with backoff, failures kept.
alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("id", ID, primary_key=True),
    Column("event_id", ID, ForeignKey("alert_events.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(20), nullable=False),  # webhook | email | log
    Column("target", Text, nullable=False),
    Column("status", String(10), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text),
    Column("next_attempt_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime),
    Index(None, "status", "next_attempt_at"),
    Index(None, "event_id"),
)

# --- the flywheel: teacher labels (issue 10) ---

# A teacher model's answer for one dataset item, kept apart from the item's human ``expected`` so the
# two can be mixed or compared. One row per (item, teacher, prompt version): a resumed or repeated
# labelling job skips what is stored, so no item is paid for twice.
teacher_labels = Table(
    "teacher_labels",
    metadata,
    Column("id", ID, primary_key=True),
    _project_fk(),
    Column("dataset_id", ID, ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    Column("item_key", String(200), nullable=False),
    Column("dataset_item_id", ID),  # the item revision that was labelled
    Column("teacher", String(300), nullable=False),  # model string
    Column("prompt_ref", String(250), nullable=False),  # "name@version", or "" without a prompt
    Column("prompt_name", String(200)),
    Column("prompt_version", Integer),
    Column("params", JSONType),
    Column("output", Text, nullable=False),
    Column("value", JSONType),  # the output parsed as JSON when it is JSON, else the text
    Column("input_tokens", Integer),
    Column("output_tokens", Integer),
    Column("cost", Float),
    Column("latency_ms", Float),
    Column("source", String(10), nullable=False),  # api | batch
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("dataset_id", "item_key", "teacher", "prompt_ref"),
)
