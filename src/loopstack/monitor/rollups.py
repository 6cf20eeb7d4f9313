"""Hourly rollups of model-call spans, folded in incrementally so dashboards stay fast at scale.

``refresh_rollups`` reads only the spans ingested since the project's watermark (an index on
``ingested_at``), groups them by hour, model, prompt version, environment and latency bin in SQL, and
merges the result into ``span_rollups``; each day touched is then re-summed from its hourly rows into
``span_rollups_daily``, which answers day-sized dashboard buckets with 24x fewer rows. Keying on
ingest time, not start time, means a span that arrives late still lands in the hour it started. The
watermark stops ``GRACE`` short of now so a batch whose transaction commits a moment after its
``ingested_at`` stamp is not skipped. Readers choose the environment (``read_rollups``): by default
every one but ``eval``, so eval runs never count as production requests.
"""

from __future__ import annotations

import base64
import binascii
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, func, insert, select, text, update
from sqlalchemy.engine import Connection

from loopstack.store import Store, utcnow
from loopstack.store.environments import ALL, EVAL
from loopstack.store.tables import rollup_watermarks, span_rollups, span_rollups_daily, spans

#: How long after its ``ingested_at`` stamp a span's transaction may still commit (the server's
#: group-commit writer stamps rows before queueing them). Younger spans are read, not folded.
GRACE = timedelta(seconds=30)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PG_LOCK = 7_460_302  # serialises concurrent refreshes on PostgreSQL (SQLite writers already queue)

Key = tuple[int, str, str, int, str]


#: Histogram bins kept (bin 511 is ~e^25 ms, beyond any real latency); higher bins are clamped.
NBINS = 512


def encode_hist(hist: dict[int, int]) -> str:
    """``lowest_bin:base64(uint32 counts)``: compact, and decoded by numpy in one call."""
    import numpy as np

    if not hist:
        return ""
    clamped: dict[int, int] = defaultdict(int)
    for b, n in hist.items():
        clamped[min(max(b, 0), NBINS - 1)] += n
    lo, hi = min(clamped), max(clamped)
    arr = np.zeros(hi - lo + 1, dtype="<u4")
    for b, n in clamped.items():
        arr[b - lo] = n
    return f"{lo}:{base64.b64encode(arr.tobytes()).decode()}"


def decode_hist(raw: str) -> tuple[int, Any] | None:
    """(lowest bin, numpy counts) of an encoded histogram, or None when empty."""
    import numpy as np

    if not raw:
        return None
    lo, _, data = raw.partition(":")
    return int(lo), np.frombuffer(binascii.a2b_base64(data), dtype="<u4")


def _encode_counts(counts: Any) -> str:
    """``encode_hist`` of a dense numpy array of counts by bin (bins 0..NBINS-1)."""
    import numpy as np

    nz = np.flatnonzero(counts)
    if not nz.size:
        return ""
    lo, hi = int(nz[0]), int(nz[-1])
    return f"{lo}:{base64.b64encode(counts[lo : hi + 1].astype('<u4').tobytes()).decode()}"


def hist_dict(raw: str) -> dict[int, int]:
    decoded = decode_hist(raw)
    if decoded is None:
        return {}
    lo, arr = decoded
    return {lo + i: int(n) for i, n in enumerate(arr.tolist()) if n}


def refresh_rollups(
    store: Store, project_id: str, now: datetime | None = None, *, min_interval: float = 0.0
) -> int:
    """Fold spans ingested since the watermark into ``span_rollups``; how many spans were folded.

    With ``min_interval`` it does nothing (and takes no write lock) when the last fold is more recent
    than that many seconds: readers add the unfolded spans themselves (``read_rollups``).
    """
    upto = (now or utcnow()) - GRACE
    if min_interval > 0:
        with store.read() as conn:
            last = conn.execute(
                select(rollup_watermarks.c.ingested_until).where(rollup_watermarks.c.project_id == project_id)
            ).scalar()
        if last is not None and (upto - last).total_seconds() < min_interval:
            return 0
    with store.write() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
        since = conn.execute(
            select(rollup_watermarks.c.ingested_until).where(rollup_watermarks.c.project_id == project_id)
        ).scalar()
        start = since or _EPOCH
        if start >= upto:
            return 0
        rows = _grouped(conn, project_id, start, upto)
        folded = _merge(conn, project_id, rows)
        if since is None:
            conn.execute(insert(rollup_watermarks).values(project_id=project_id, ingested_until=upto))
        else:
            conn.execute(
                update(rollup_watermarks)
                .where(rollup_watermarks.c.project_id == project_id)
                .values(ingested_until=upto)
            )
    return folded


def _grouped(conn: Connection, project_id: str, after: datetime, upto: datetime | None) -> Sequence[Any]:
    """Model-call spans ingested in (after, upto], grouped by hour, model, prompt version, environment
    and latency bin."""
    from loopstack.monitor.aggregates import epoch_seconds, latency_bin

    hour = (epoch_seconds(conn, spans.c.start_time) // 3600).label("hour")
    lbin = latency_bin(conn).label("bin")
    # Only the ingested_at range may drive the plan: `|| ''` keeps the model index out of it.
    where = [
        spans.c.project_id == project_id,
        spans.c.ingested_at > after,
        spans.c.model.concat("").is_not(None),
    ]
    if upto is not None:
        where.append(spans.c.ingested_at <= upto)
    return conn.execute(
        select(
            hour,
            spans.c.model,
            func.coalesce(spans.c.prompt_name, ""),
            func.coalesce(spans.c.prompt_version, 0),
            spans.c.environment,
            lbin,
            func.count(),
            func.sum(case((spans.c.status_code == "ERROR", 1), else_=0)),
            func.coalesce(func.sum(spans.c.input_tokens), 0),
            func.coalesce(func.sum(spans.c.output_tokens), 0),
            func.coalesce(func.sum(spans.c.cost), 0.0),
        )
        .where(*where)
        .group_by(hour, spans.c.model, spans.c.prompt_name, spans.c.prompt_version, spans.c.environment, lbin)
    ).all()


def _merge(conn: Connection, project_id: str, rows: Sequence[Any]) -> int:
    acc: dict[Key, list[Any]] = {}
    folded = 0
    for h, model, pname, pver, env, b, n, errs, tin, tout, cost in rows:
        key = (int(h), str(model), str(pname), int(pver), str(env))
        cur = acc.setdefault(key, [0, 0, 0, 0, 0.0, defaultdict(int)])
        cur[0] += int(n)
        cur[1] += int(errs or 0)
        cur[2] += int(tin or 0)
        cur[3] += int(tout or 0)
        cur[4] += float(cost or 0.0)
        if b is not None:
            cur[5][int(b)] += int(n)
        folded += int(n)
    if not acc:
        return 0
    hours = sorted({k[0] for k in acc})
    r = span_rollups.c
    for chunk in (hours[i : i + 500] for i in range(0, len(hours), 500)):
        existing = conn.execute(
            select(span_rollups).where(r.project_id == project_id, r.hour.in_(chunk))
        ).mappings()
        for row in existing:
            key = (row["hour"], row["model"], row["prompt_name"], row["prompt_version"], row["environment"])
            cur = acc.setdefault(key, [0, 0, 0, 0, 0.0, defaultdict(int)])
            cur[0] += row["requests"]
            cur[1] += row["errors"]
            cur[2] += row["input_tokens"]
            cur[3] += row["output_tokens"]
            cur[4] += row["cost"]
            for b, n in hist_dict(row["latency_hist"]).items():
                cur[5][b] += n
    for chunk in (hours[i : i + 500] for i in range(0, len(hours), 500)):
        conn.execute(delete(span_rollups).where(r.project_id == project_id, r.hour.in_(chunk)))
    conn.execute(
        insert(span_rollups),
        [
            {
                "project_id": project_id,
                "hour": k[0],
                "model": k[1],
                "prompt_name": k[2],
                "prompt_version": k[3],
                "environment": k[4],
                "requests": v[0],
                "errors": v[1],
                "input_tokens": v[2],
                "output_tokens": v[3],
                "cost": v[4],
                "latency_hist": encode_hist(v[5]),
            }
            for k, v in acc.items()
        ],
    )
    _resum_days(conn, project_id, sorted({h // 24 for h in hours}))
    return folded


def _resum_days(conn: Connection, project_id: str, days: list[int]) -> None:
    """Rebuild the daily rows of ``days`` as the sums of their hourly rows (same transaction)."""
    import numpy as np

    r, d = span_rollups.c, span_rollups_daily.c
    for chunk in (days[i : i + 20] for i in range(0, len(days), 20)):
        hours = [day * 24 + h for day in chunk for h in range(24)]
        acc: dict[Key, list[Any]] = {}
        for row in conn.execute(
            select(
                r.hour,
                r.model,
                r.prompt_name,
                r.prompt_version,
                r.environment,
                r.requests,
                r.errors,
                r.input_tokens,
                r.output_tokens,
                r.cost,
                r.latency_hist,
            ).where(r.project_id == project_id, r.hour.in_(hours))
        ):
            key = (int(row[0]) // 24, str(row[1]), str(row[2]), int(row[3]), str(row[4]))
            cur = acc.setdefault(key, [0, 0, 0, 0, 0.0, np.zeros(NBINS, dtype=np.int64)])
            for i in range(4):
                cur[i] += int(row[5 + i])
            cur[4] += float(row[9])
            decoded = decode_hist(row[10])
            if decoded is not None:
                lo, counts = decoded
                cur[5][lo : lo + len(counts)] += counts
        conn.execute(delete(span_rollups_daily).where(d.project_id == project_id, d.day.in_(chunk)))
        if acc:
            conn.execute(
                insert(span_rollups_daily),
                [
                    {
                        "project_id": project_id,
                        "day": k[0],
                        "model": k[1],
                        "prompt_name": k[2],
                        "prompt_version": k[3],
                        "environment": k[4],
                        "requests": v[0],
                        "errors": v[1],
                        "input_tokens": v[2],
                        "output_tokens": v[3],
                        "cost": v[4],
                        "latency_hist": _encode_counts(v[5]),
                    }
                    for k, v in acc.items()
                ],
            )


def read_rollups(
    conn: Connection,
    project_id: str,
    start: datetime,
    end: datetime,
    *,
    daily: bool = False,
    environment: str | None = None,
) -> list[Any]:
    """Rollup rows for the whole hours in [start, end), plus the spans ingested after the watermark
    (the last few seconds, not folded in yet) so a dashboard never lags behind ingest.

    Each row: (hour, model, prompt_name, prompt_version, requests, errors, input_tokens,
    output_tokens, cost, encoded latency histogram). With ``daily`` the whole days inside the window
    come as one row per day (its ``hour`` is the day's first hour): only for buckets of whole days.
    ``environment``: None for every environment but ``eval``, ``all``, or one environment's name.
    """
    first, last = int(start.timestamp()) // 3600, int(end.timestamp()) // 3600
    out: list[Any] = []
    day_lo, day_hi = -(-first // 24), last // 24
    if daily and day_lo < day_hi:
        out += _rollup_rows(
            conn, "span_rollups_daily", "day * 24", "day", project_id, day_lo, day_hi, environment
        )
        out += _rollup_rows(conn, "span_rollups", "hour", "hour", project_id, first, day_lo * 24, environment)
        out += _rollup_rows(conn, "span_rollups", "hour", "hour", project_id, day_hi * 24, last, environment)
    else:
        out += _rollup_rows(conn, "span_rollups", "hour", "hour", project_id, first, last, environment)
    since = conn.execute(
        select(rollup_watermarks.c.ingested_until).where(rollup_watermarks.c.project_id == project_id)
    ).scalar()
    for h, model, pname, pver, env, b, n, errs, tin, tout, cost in _grouped(
        conn, project_id, since or _EPOCH, None
    ):
        if not first <= int(h) < last or not _environment_matches(str(env), environment):
            continue
        hist = "" if b is None else encode_hist({int(b): int(n)})
        out.append(
            (
                int(h),
                str(model),
                str(pname),
                int(pver),
                int(n),
                int(errs or 0),
                int(tin or 0),
                int(tout or 0),
                float(cost or 0.0),
                hist,
            )
        )
    return out


def _environment_matches(env: str, environment: str | None) -> bool:
    """``store.environments.environment_clause`` for one value, in Python."""
    if environment is None:
        return env != EVAL
    return environment == ALL or env == environment


def _rollup_rows(
    conn: Connection,
    table: str,
    hour_expr: str,
    key: str,
    project_id: str,
    lo: int,
    hi: int,
    environment: str | None,
) -> list[Any]:
    """Rows of one rollup table with ``lo <= key < hi`` in ``environment`` (see ``read_rollups``), read
    through a plain cursor (tens of thousands of small rows at most, no per-value type processing)."""
    if lo >= hi:
        return []
    cols = f"{hour_expr}, model, prompt_name, prompt_version, requests, errors, input_tokens, "
    cols += "output_tokens, cost, latency_hist"
    conds: list[tuple[str, Any]] = [("project_id = ", project_id), (f"{key} >= ", lo), (f"{key} < ", hi)]
    if environment is None:
        conds.append(("environment <> ", EVAL))
    elif environment != ALL:
        conds.append(("environment = ", environment))
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    where = " AND ".join(f"{cond}{mark}" for cond, _ in conds)
    sql = f"SELECT {cols} FROM {table} WHERE {where}"
    return list(conn.exec_driver_sql(sql, tuple(value for _, value in conds)).all())
