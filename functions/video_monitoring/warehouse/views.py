"""The BI views of the export's dataset (docs/bi.md): SQL only, created by the export on every
run with CREATE OR REPLACE VIEW (idempotent, and a changed definition reaches the dataset on
the next run). Pure: no BigQuery client here.

- `generation_facts`: one row per exported generation with its derived times.
- `daily_provider_summary`: one row per UTC day and provider, the dashboards' definitions.
- `cohort_retention`: weekly cohorts (ISO week of a user's first generation) by week offset.

Columns are snake_case, the BI tools' habit; it also keeps them as written on the emulator,
which lower-cases every alias of a query using COUNTIF or APPROX_QUANTILES.

Only constructs the BigQuery emulator runs too are used where BigQuery offers a choice: weeks
start on the Monday computed from DAYOFWEEK (the emulator rejects `DATE_TRUNC(d, ISOWEEK)` and
truncates `WEEK(MONDAY)` to Sunday), offsets are days divided by seven.
"""

from __future__ import annotations

from collections.abc import Callable

from video_monitoring.privacy.pseudonyms import ANONYMOUS


def _seconds(start: str, end: str) -> str:
    """Seconds from one timestamp column to another, to the microsecond (NULL if either is)."""
    return f"TIMESTAMP_DIFF({end}, {start}, MICROSECOND) / 1000000"


def _monday(day: str) -> str:
    """The Monday starting the ISO week of a DATE expression (DAYOFWEEK: Sunday 1 .. Saturday 7)."""
    return f"DATE_SUB({day}, INTERVAL MOD(EXTRACT(DAYOFWEEK FROM {day}) + 5, 7) DAY)"


def generation_facts_sql(dataset: str) -> str:
    """One row per generation: ids, status, provider, tier, cost and quality as exported, user
    ids as the export wrote them (pseudonymised where it pseudonymises), and the derived times:
    queue wait (created to started), processing (started to completed) and total (created to
    completed, for failed and cancelled jobs too)."""
    return (
        "SELECT generationId AS generation_id, DATE(createdAt) AS day, createdAt AS created_at, "
        "startedAt AS started_at, completedAt AS completed_at, userId AS user_id, provider, "
        "model, userTier AS tier, status, "
        f"{_seconds('createdAt', 'startedAt')} AS queue_wait_seconds, "
        f"{_seconds('startedAt', 'completedAt')} AS processing_seconds, "
        f"{_seconds('createdAt', 'completedAt')} AS total_seconds, "
        "attempts, fallbackFrom AS fallback_from, errorCode AS error_code, "
        "errorRetryable AS error_retryable, costUsd AS cost_usd, outputSeconds AS output_seconds, "
        "qualityScore AS quality_score, userRating AS user_rating, resolution "
        f"FROM `{dataset}.generation_metrics`"
    )


def daily_provider_summary_sql(dataset: str) -> str:
    """Per UTC day (of createdAt) and provider, as the dashboards define the figures: success
    rate over completed and failed jobs, generation time (created to completed) of completed
    jobs with p50/p95 from APPROX_QUANTILES over 100 quantiles, cost of every job, cost per
    second of output of completed jobs, average quality score and user rating."""
    done = "IF(status = 'completed', generationSeconds, NULL)"
    quantile = f"APPROX_QUANTILES({done}, 100)"
    return (
        "SELECT DATE(createdAt) AS day, provider, COUNT(*) AS generations, "
        "COUNTIF(status = 'completed') AS completed, COUNTIF(status = 'failed') AS failed, "
        "SAFE_DIVIDE(COUNTIF(status = 'completed'), "
        "COUNTIF(status IN ('completed', 'failed'))) AS success_rate, "
        f"AVG({done}) AS avg_generation_seconds, "
        f"{quantile}[SAFE_OFFSET(50)] AS p50_generation_seconds, "
        f"{quantile}[SAFE_OFFSET(95)] AS p95_generation_seconds, "
        "IFNULL(SUM(costUsd), 0) AS cost_usd, "
        "SAFE_DIVIDE(SUM(costUsd), SUM(IF(generationSeconds IS NULL, NULL, outputSeconds))) "
        "AS cost_per_output_second_usd, "
        "AVG(qualityScore) AS avg_quality_score, AVG(userRating) AS avg_user_rating "
        f"FROM `{dataset}.generation_metrics` GROUP BY day, provider"
    )


def cohort_retention_sql(dataset: str) -> str:
    """Weekly cohorts by the ISO week (Monday to Sunday, UTC) of each user's first exported
    generation: per cohort and week offset (0 is the cohort's own week, up to the latest week
    with any generation), the cohort's users, those with a generation in that week and their
    share. Anonymised rows (erased, opted out) belong to no user and are left out."""
    anonymous = ", ".join(f"'{name}'" for name in sorted(ANONYMOUS))
    week = _monday("DATE(createdAt)")
    return (
        f"WITH activity AS (SELECT DISTINCT userId AS user_id, {week} AS week "
        f"FROM `{dataset}.generation_metrics` WHERE userId NOT IN ({anonymous})), "
        "firsts AS (SELECT user_id, MIN(week) AS cohort_week FROM activity GROUP BY user_id), "
        "sizes AS (SELECT cohort_week, COUNT(*) AS cohort_users FROM firsts "
        "GROUP BY cohort_week), "
        "active AS (SELECT f.cohort_week, DIV(DATE_DIFF(a.week, f.cohort_week, DAY), 7) "
        "AS week_offset, COUNT(*) AS active_users FROM activity AS a "
        "JOIN firsts AS f ON a.user_id = f.user_id GROUP BY f.cohort_week, week_offset), "
        "latest AS (SELECT MAX(week) AS last_week FROM activity) "
        "SELECT s.cohort_week, FORMAT_DATE('%G-W%V', s.cohort_week) AS cohort_iso_week, "
        "o AS week_offset, DATE_ADD(s.cohort_week, INTERVAL 7 * o DAY) AS week, "
        "s.cohort_users, IFNULL(a.active_users, 0) AS active_users, "
        "IFNULL(a.active_users, 0) / s.cohort_users AS share_active "
        "FROM sizes AS s CROSS JOIN latest AS l "
        "CROSS JOIN UNNEST(GENERATE_ARRAY(0, DIV(DATE_DIFF(l.last_week, s.cohort_week, DAY), 7))) "
        "AS o LEFT JOIN active AS a ON a.cohort_week = s.cohort_week AND a.week_offset = o"
    )


# View name -> (its description, its query over the dataset's tables).
VIEWS: dict[str, tuple[str, Callable[[str], str]]] = {
    "generation_facts": (
        "One row per generation with queue wait, processing and total seconds.",
        generation_facts_sql,
    ),
    "daily_provider_summary": (
        "Per UTC day and provider: counts, success rate, p50/p95 time (APPROX_QUANTILES), "
        "cost, cost per output second, quality.",
        daily_provider_summary_sql,
    ),
    "cohort_retention": (
        "Weekly cohorts (ISO week of first generation) by week offset: users, share active.",
        cohort_retention_sql,
    ),
}


def view_statements(dataset: str) -> list[str]:
    """CREATE OR REPLACE VIEW for every view of `dataset` (`project.dataset`, already checked
    to be plain identifiers); descriptions are fixed text without quotes."""
    return [
        f"CREATE OR REPLACE VIEW `{dataset}.{name}` OPTIONS (description = '{description}') "
        f"AS {sql(dataset)}"
        for name, (description, sql) in VIEWS.items()
    ]
