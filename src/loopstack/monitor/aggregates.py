"""Dashboard aggregates over production spans and scores, recomputed from the stored rows.

Production means every environment but ``eval`` unless the caller picks one (``environment``): eval
runs store their model calls as spans too, and must not count as production requests.

A *request* is a model-call span (a span with a ``model``). Latency percentiles come from a
log-spaced histogram computed in SQL (bins 5% wide, so a percentile is exact to within 2.5%): the
database returns a few hundred rows instead of every duration, which keeps the dashboard fast at
millions of spans. Feedback is a ``user-feedback`` or ``human`` score on a span or a trace.
"""

from __future__ import annotations

import binascii
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, and_, case, cast, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from loopstack.store import Store
from loopstack.store.environments import environment_clause
from loopstack.store.scores import FEEDBACK_SOURCES
from loopstack.store.tables import scores, spans

#: Histogram resolution: bins per unit of ln(1 + ms); 20 gives bins ~5% wide.
_BINS_PER_LN = 20
#: Named ranges the dashboard offers, with the bucket width that gives 24-60 points each.
RANGES: dict[str, tuple[timedelta, int]] = {
    "1h": (timedelta(hours=1), 60),
    "24h": (timedelta(hours=24), 3600),
    "7d": (timedelta(days=7), 6 * 3600),
    "30d": (timedelta(days=30), 86400),
}


@dataclass
class Stats:
    """Request figures for one bucket or one breakdown row."""

    requests: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    p50_ms: float | None = None
    p95_ms: float | None = None
    feedback: int = 0
    negative_feedback: int = 0

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    @property
    def feedback_rate(self) -> float | None:
        return self.feedback / self.requests if self.requests else None

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass
class DashboardScore:
    """Mean of one score name over the window, and per bucket."""

    name: str
    count: int
    mean: float
    series: list[float | None] = field(default_factory=list)


@dataclass
class Dashboard:
    """Everything the overview page shows for one time window."""

    start: datetime
    end: datetime
    bucket_seconds: int
    buckets: list[datetime]
    series: list[Stats]
    totals: Stats
    by_model: dict[str, Stats]
    by_prompt: dict[str, Stats]
    scores: list[DashboardScore]


def epoch_seconds(conn: Connection, column: Any) -> ColumnElement[Any]:
    """Whole Unix seconds of a timestamp column, in this dialect's SQL."""
    if conn.dialect.name == "sqlite":
        return cast(func.strftime("%s", column), Integer)
    return cast(func.floor(func.extract("epoch", column)), Integer)


def latency_bin(conn: Connection) -> ColumnElement[Any]:
    """The histogram bin of a span's duration (NULL when it has none)."""
    _ensure_ln(conn)
    scaled = func.ln(spans.c.duration_ms + 1.0) * _BINS_PER_LN
    if conn.dialect.name == "sqlite":  # CAST truncates there; PostgreSQL's rounds, hence the floor
        return cast(scaled, Integer)
    return cast(func.floor(scaled), Integer)


def _ensure_ln(conn: Connection) -> None:
    """SQLite builds without math functions get a Python ``ln`` (slower, same answer)."""
    if conn.dialect.name != "sqlite":
        return
    try:
        conn.exec_driver_sql("SELECT ln(1.0)")
    except Exception:  # noqa: BLE001 - any failure means the function is missing
        raw = conn.connection.driver_connection
        raw.create_function("ln", 1, math.log, deterministic=True)  # type: ignore[union-attr]


def _percentile(hist: Any, q: float) -> float | None:
    """The q-quantile of a histogram: a {bin: count} dict, or a numpy array of counts by bin."""
    if not isinstance(hist, dict):
        import numpy as np

        cum = np.cumsum(hist)
        if not len(cum) or not cum[-1]:
            return None
        b = int(np.searchsorted(cum, max(1, math.ceil(q * int(cum[-1])))))
        return max(0.0, math.exp((b + 0.5) / _BINS_PER_LN) - 1.0)
    total = sum(hist.values())
    if not total:
        return None
    rank = max(1, math.ceil(q * total))  # nearest-rank: the smallest value with q of the mass at or below
    seen = 0
    for b in sorted(hist):
        seen += hist[b]
        if seen >= rank:
            return max(0.0, math.exp((b + 0.5) / _BINS_PER_LN) - 1.0)
    return None  # pragma: no cover - unreachable: rank <= total


def prompt_key(name: str | None, version: int | None) -> str:
    """How a prompt version is named on the dashboard: ``name@v``, or ``(none)``."""
    if not name:
        return "(none)"
    return f"{name}@{version}" if version is not None else name


def compute_dashboard(
    store: Store,
    project_id: str,
    start: datetime,
    end: datetime,
    bucket_seconds: int,
    *,
    environment: str | None = None,
) -> Dashboard:
    """Aggregate requests, latency, tokens, cost, errors, feedback and scores in [start, end).

    ``environment``: None for production (every environment but ``eval``), ``all``, or one name.
    """
    first = int(start.timestamp()) // bucket_seconds
    last = (int(end.timestamp()) - 1) // bucket_seconds
    buckets = [datetime.fromtimestamp(b * bucket_seconds, UTC) for b in range(first, last + 1)]
    series = [Stats() for _ in buckets]
    by_model: dict[str, Stats] = defaultdict(Stats)
    by_prompt: dict[str, Stats] = defaultdict(Stats)
    totals = Stats()
    hourly = bucket_seconds % 3600 == 0 and start.timestamp() % 3600 == 0 and end.timestamp() % 3600 == 0
    if hourly:
        from loopstack.monitor.rollups import refresh_rollups

        refresh_rollups(store, project_id, min_interval=30.0)
    fill = _from_rollups if hourly else _from_spans
    with store.read() as conn:
        fill(
            conn,
            project_id,
            start,
            end,
            bucket_seconds,
            first,
            series,
            by_model,
            by_prompt,
            totals,
            environment,
        )
        summaries = _score_figures(conn, project_id, start, end, bucket_seconds, first, series, totals)
    return Dashboard(
        start=start,
        end=end,
        bucket_seconds=bucket_seconds,
        buckets=buckets,
        series=series,
        totals=totals,
        by_model=dict(sorted(by_model.items(), key=lambda kv: -kv[1].requests)),
        by_prompt=dict(sorted(by_prompt.items(), key=lambda kv: -kv[1].requests)),
        scores=summaries,
    )


def _add(target: Stats, n: int, errs: int, tin: int, tout: int, cost: float) -> None:
    target.requests += n
    target.errors += errs
    target.input_tokens += tin
    target.output_tokens += tout
    target.cost += cost


def _from_rollups(
    conn: Connection,
    project_id: str,
    start: datetime,
    end: datetime,
    bucket_seconds: int,
    first: int,
    series: list[Stats],
    by_model: dict[str, Stats],
    by_prompt: dict[str, Stats],
    totals: Stats,
    environment: str | None,
) -> None:
    """Fill every figure from the hourly rollups (whole-hour windows and buckets)."""
    import numpy as np

    from loopstack.monitor.rollups import NBINS, read_rollups

    # Buckets of whole days take the daily rollups: a day's row always falls in a single bucket.
    rows = read_rollups(
        conn, project_id, start, end, daily=bucket_seconds % 86400 == 0, environment=environment
    )
    if not rows:
        return
    # Vectorised: tens of thousands of rollup rows become a few numpy group-bys (bincount).
    n, nb = len(rows), len(series)
    idx = np.fromiter((r[0] * 3600 // bucket_seconds - first for r in rows), np.int64, n)
    model_names = sorted({r[1] for r in rows})
    prompt_names = sorted({prompt_key(r[2] or None, r[3] or None) for r in rows})
    m_code = {k: i for i, k in enumerate(model_names)}
    p_code = {k: i for i, k in enumerate(prompt_names)}
    mc = np.fromiter((m_code[r[1]] for r in rows), np.int64, n)
    pc = np.fromiter((p_code[prompt_key(r[2] or None, r[3] or None)] for r in rows), np.int64, n)
    cols = [np.fromiter((r[k] for r in rows), np.float64, n) for k in (4, 5, 6, 7, 8)]
    groups: list[tuple[Any, list[Stats]]] = [
        (idx, series),
        (mc, [by_model[k] for k in model_names]),
        (pc, [by_prompt[k] for k in prompt_names]),
    ]
    for codes, targets in groups:
        sums = [np.bincount(codes, weights=c, minlength=len(targets)) for c in cols]
        for t, target in enumerate(targets):
            _add(
                target, int(sums[0][t]), int(sums[1][t]), int(sums[2][t]), int(sums[3][t]), float(sums[4][t])
            )
    _add(
        totals,
        int(cols[0].sum()),
        int(cols[1].sum()),
        int(cols[2].sum()),
        int(cols[3].sum()),
        float(cols[4].sum()),
    )

    # Histograms arrive as "lowest_bin:base64(uint32 counts)"; decode them all into one flat array.
    heads = [r[9].partition(":") for r in rows]
    los = np.fromiter((int(h[0]) if h[0] else 0 for h in heads), np.int64, n)
    blobs = [binascii.a2b_base64(h[2]) if h[2] else b"" for h in heads]
    lens = np.fromiter((len(b) // 4 for b in blobs), np.int64, n)
    if not lens.any():
        return
    vals = np.frombuffer(b"".join(blobs), dtype="<u4").astype(np.float64)
    row_of = np.repeat(np.arange(n), lens)
    bins = np.repeat(los, lens) + (np.arange(vals.size) - np.repeat(np.cumsum(lens) - lens, lens))

    def grouped(codes: Any, size: int) -> Any:
        flat = np.bincount(codes[row_of] * NBINS + bins, weights=vals, minlength=size * NBINS)
        return flat.reshape(size, NBINS)

    per_bucket = grouped(idx, nb)
    per_model = grouped(mc, len(model_names))
    per_prompt = grouped(pc, len(prompt_names))
    _fill_percentiles(
        series,
        by_model,
        by_prompt,
        totals,
        {i: per_bucket[i] for i in range(nb) if per_bucket[i].any()},
        {k: per_model[i] for i, k in enumerate(model_names)},
        {k: per_prompt[i] for i, k in enumerate(prompt_names)},
        per_bucket.sum(axis=0),
    )


def _from_spans(
    conn: Connection,
    project_id: str,
    start: datetime,
    end: datetime,
    bucket_seconds: int,
    first: int,
    series: list[Stats],
    by_model: dict[str, Stats],
    by_prompt: dict[str, Stats],
    totals: Stats,
    environment: str | None,
) -> None:
    """Fill every figure straight from the spans (short windows, buckets under an hour)."""
    conds = [
        spans.c.project_id == project_id,
        spans.c.start_time >= start,
        spans.c.start_time < end,
        spans.c.model.is_not(None),
    ]
    env = environment_clause(spans.c.environment, environment)
    if env is not None:
        conds.append(env)
    window = and_(*conds)
    bucket = (epoch_seconds(conn, spans.c.start_time) // bucket_seconds).label("bucket")
    is_error = case((spans.c.status_code == "ERROR", 1), else_=0)
    rows = conn.execute(
        select(
            bucket,
            spans.c.model,
            spans.c.prompt_name,
            spans.c.prompt_version,
            func.count(),
            func.sum(is_error),
            func.coalesce(func.sum(spans.c.input_tokens), 0),
            func.coalesce(func.sum(spans.c.output_tokens), 0),
            func.coalesce(func.sum(spans.c.cost), 0.0),
        )
        .where(window)
        .group_by(bucket, spans.c.model, spans.c.prompt_name, spans.c.prompt_version)
    ).all()
    for b, model, pname, pver, n, errs, tin, tout, cost in rows:
        for target in (
            series[int(b) - first],
            by_model[str(model)],
            by_prompt[prompt_key(pname, pver)],
            totals,
        ):
            _add(target, int(n), int(errs or 0), int(tin or 0), int(tout or 0), float(cost or 0.0))
    _latency(conn, window, bucket, first, series, by_model, by_prompt, totals)


def _latency(
    conn: Connection,
    window: ColumnElement[bool],
    bucket: Any,
    first: int,
    series: list[Stats],
    by_model: dict[str, Stats],
    by_prompt: dict[str, Stats],
    totals: Stats,
) -> None:
    """Fill p50/p95 from histograms per bucket, per model and per prompt version."""
    lat_bin = latency_bin(conn).label("bin")
    timed = and_(window, spans.c.duration_ms.is_not(None), spans.c.duration_ms >= 0)
    per_bucket: dict[int, dict[int, int]] = defaultdict(dict)
    per_model: dict[str, dict[int, int]] = defaultdict(dict)
    per_prompt: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    overall: dict[int, int] = defaultdict(int)
    for b, lb, n in conn.execute(
        select(bucket, lat_bin, func.count()).where(timed).group_by(bucket, lat_bin)
    ):
        per_bucket[int(b) - first][int(lb)] = int(n)
        overall[int(lb)] += int(n)
    for model, lb, n in conn.execute(
        select(spans.c.model, lat_bin, func.count()).where(timed).group_by(spans.c.model, lat_bin)
    ):
        per_model[str(model)][int(lb)] = int(n)
    for pname, pver, lb, n in conn.execute(
        select(spans.c.prompt_name, spans.c.prompt_version, lat_bin, func.count())
        .where(timed)
        .group_by(spans.c.prompt_name, spans.c.prompt_version, lat_bin)
    ):
        per_prompt[prompt_key(pname, pver)][int(lb)] += int(n)
    _fill_percentiles(series, by_model, by_prompt, totals, per_bucket, per_model, per_prompt, overall)


def _fill_percentiles(
    series: list[Stats],
    by_model: dict[str, Stats],
    by_prompt: dict[str, Stats],
    totals: Stats,
    per_bucket: dict[int, Any],
    per_model: dict[str, Any],
    per_prompt: dict[str, Any],
    overall: Any,
) -> None:
    pairs: list[tuple[Stats, Any]] = [(series[i], h) for i, h in per_bucket.items()]
    pairs += [(by_model[k], h) for k, h in per_model.items()]
    pairs += [(by_prompt[k], h) for k, h in per_prompt.items()]
    pairs.append((totals, overall))
    for target, hist in pairs:
        target.p50_ms = _percentile(hist, 0.5)
        target.p95_ms = _percentile(hist, 0.95)


def _score_figures(
    conn: Connection,
    project_id: str,
    start: datetime,
    end: datetime,
    bucket_seconds: int,
    first: int,
    series: list[Stats],
    totals: Stats,
) -> list[DashboardScore]:
    """Feedback counts and the mean of each numeric or boolean production score, in one scan."""
    bucket = (epoch_seconds(conn, scores.c.created_at) // bucket_seconds).label("bucket")
    is_feedback = case((scores.c.source.in_(FEEDBACK_SOURCES), 1), else_=0).label("fb")
    negative = case((scores.c.value <= 0, 1), else_=0)
    rows = conn.execute(
        select(
            scores.c.name,
            is_feedback,
            bucket,
            func.count(),
            func.count(scores.c.value),
            func.sum(scores.c.value),
            func.sum(negative),
        )
        .where(
            scores.c.project_id == project_id,
            scores.c.created_at >= start,
            scores.c.created_at < end,
            scores.c.target_type.in_(("span", "trace")),
        )
        .group_by(scores.c.name, is_feedback, bucket)
    ).all()
    n_buckets = len(series)
    acc: dict[str, list[tuple[int, int, float]]] = defaultdict(list)
    for name, fb, b, n, n_values, total, neg in rows:
        idx = int(b) - first
        if fb:
            if 0 <= idx < n_buckets:
                series[idx].feedback += int(n)
                series[idx].negative_feedback += int(neg or 0)
            totals.feedback += int(n)
            totals.negative_feedback += int(neg or 0)
        if n_values:
            acc[str(name)].append((idx, int(n_values), float(total or 0.0)))
    out = []
    for name, parts in sorted(acc.items()):
        count = sum(n for _, n, _ in parts)
        per_n = [0] * n_buckets
        per_t = [0.0] * n_buckets
        for idx, n, total in parts:
            if 0 <= idx < n_buckets:
                per_n[idx] += n
                per_t[idx] += total
        per: list[float | None] = [t / n if n else None for n, t in zip(per_n, per_t, strict=True)]
        mean = sum(t for _, _, t in parts) / count
        out.append(DashboardScore(name=name, count=count, mean=mean, series=per))
    return out


def resolve_range(
    name: str | None, start: datetime | None = None, end: datetime | None = None, now: datetime | None = None
) -> tuple[datetime, datetime, int]:
    """The window and bucket width for a named range (``24h``) or explicit ``start``/``end``."""
    now = now or datetime.now(UTC)
    if start is not None:
        end = end or now
        span_s = max(60.0, (end - start).total_seconds())
        width = next((w for d, w in RANGES.values() if span_s <= d.total_seconds()), 86400)
        if width >= 3600:  # whole hours, so the rollups can answer
            start = datetime.fromtimestamp(int(start.timestamp()) // 3600 * 3600, UTC)
            end = datetime.fromtimestamp(-(-int(end.timestamp()) // 3600) * 3600, UTC)
        return start, end, width
    delta, width = RANGES.get(name or "24h", RANGES["24h"])
    # Align the end to the next bucket edge so each bucket is whole and URLs stay cache-friendly.
    end_ts = (int(now.timestamp()) // width + 1) * width
    end = datetime.fromtimestamp(end_ts, UTC)
    return end - delta, end, width
