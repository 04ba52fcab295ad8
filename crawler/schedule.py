"""When a source is polled: its APScheduler trigger, its first run after a start, its back-off.

Pure functions of the source's ``schedule`` block, its stored schedule state and the time
(the daemon passes ``now``), so they are tested without a scheduler or a clock.
"""

from __future__ import annotations

import hashlib
import random
from datetime import datetime, timedelta, timezone

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from crawler.sources import Source

SHANGHAI = timezone(timedelta(hours=8))
MAX_BACKOFF = timedelta(hours=6)


def adaptive(source: Source) -> bool:
    return source.schedule.every is not None and source.schedule.adaptive


def interval_seconds(source: Source) -> float:
    if source.schedule.every is not None:
        return source.schedule.every.total_seconds()
    return 3600.0


def trigger(source: Source):
    jitter = int(source.schedule.jitter.total_seconds()) or None
    if source.schedule.cron:
        return CronTrigger(**cron_fields(source.schedule.cron), timezone=SHANGHAI, jitter=jitter)
    return IntervalTrigger(seconds=interval_seconds(source), jitter=jitter, timezone=SHANGHAI)


def cron_fields(expression: str) -> dict[str, str]:
    minute, hour, day, month, day_of_week = expression.split()
    return {"minute": minute, "hour": hour, "day": day, "month": month, "day_of_week": day_of_week}


def describe(source: Source) -> str:
    schedule = source.schedule
    if schedule.cron:
        return f"cron '{schedule.cron}'"
    return f"every {schedule.every}" + (" (adaptive: every/4 .. every*4)" if schedule.adaptive else "")


def fingerprint(source: Source) -> str:
    """Changes when the source's schedule block changes (the job is rescheduled then)."""
    return hashlib.sha1(source.schedule.model_dump_json().encode()).hexdigest()


def first_run(source: Source, state: dict | None, now: datetime, *, spread: float, index: int) -> datetime:
    """The first poll after a start: when the last one says it is due (the learned interval of an
    adaptive source is kept across restarts), else now; overdue sources after the first are spread
    over ``spread`` seconds instead of all polled at once."""
    now = now.astimezone(SHANGHAI)
    spread = min(spread, interval_seconds(source))
    if state and state.get("last_run_at"):
        learned = state.get("interval_seconds") if adaptive(source) else None
        due = datetime.fromisoformat(state["last_run_at"]).astimezone(SHANGHAI) + timedelta(
            seconds=learned or interval_seconds(source))
        if due > now:
            return due
    return now + timedelta(seconds=random.uniform(0, spread) if index else 0)


def backoff_until(failures: int, interval: float, now: datetime, asked: str | None) -> str | None:
    """After ``failures`` failed polls in a row: wait interval × 2^(failures-1), at most 6 hours,
    from the second failure on; a later pause the portal asked for (Retry-After) wins."""
    backoff = None
    if failures >= 2:
        delay = min(timedelta(seconds=interval * 2 ** (failures - 1)), MAX_BACKOFF)
        backoff = (now + delay).isoformat(timespec="seconds")
    if asked and datetime.fromisoformat(asked) > now and (backoff is None or asked > backoff):
        backoff = asked
    return backoff


def short(interval: timedelta) -> str:
    minutes = interval.total_seconds() / 60
    return f"{minutes:.0f}m" if minutes >= 1 else f"{interval.total_seconds():.0f}s"
