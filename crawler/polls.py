"""What a finished poll means for its source: schedule state, back-off, metrics, health alerts,
and (adaptive polling) when the next poll runs.

The daemon calls :meth:`PollRecorder.record` after every crawl child exits (or, on Redis, when
the ingester sees the poll's run end).
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from apscheduler.jobstores.base import JobLookupError

from crawler import schedule
from crawler.metrics import Metrics
from crawler.watcher import ConfigWatcher
from storage import Store

log = logging.getLogger("crawler.daemon")


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class PollRecorder:
    def __init__(self, db_path: Path, config: ConfigWatcher, metrics: Metrics, scheduler: Any):
        self.db_path, self.config, self.metrics, self.scheduler = db_path, config, metrics, scheduler
        self._seen_run: dict[str, int] = {}  # last crawl_runs id turned into metrics, per source

    def seen(self, runs: list[dict[str, Any]]) -> None:
        """Runs already counted (at a start: metrics start from the runs that follow)."""
        for run in runs:
            self._seen_run.setdefault(run["source"], run["id"])

    def portal_answered(self, name: str, started: datetime) -> bool:
        """Did the last crawl of ``name`` get any page (200 or 304) from the portal?"""
        with Store(self.db_path) as store:
            runs = store.runs(source=name, limit=1)
        if not runs or runs[0]["started_at"] < started.isoformat(timespec="seconds"):
            return False
        return (runs[0]["pages_fetched"] or 0) + (runs[0]["not_modified"] or 0) > 0

    def record(self, name: str, started: datetime, error: str | None) -> None:
        now = _utcnow()
        with Store(self.db_path) as store:
            if error and "timed out" in error:
                store.mark_interrupted_runs(name, reason="timeout")
                store.record_error(run_id=None, source=name, url="", kind="crawl_timeout", message=error)
            state = store.schedule_state(name).get(name, {})
            failures = (state.get("failures") or 0) + 1 if error else 0
            source = self.config.source(name)
            interval = schedule.interval_seconds(source) if source else 60.0
            # The crawl itself may have paused the source (429/503 with Retry-After): the later time wins.
            asked = state.get("backoff_until")
            backoff = schedule.backoff_until(failures, interval, now, asked)
            if backoff is not None and backoff == asked:
                error = error or "the portal asked us to wait (Retry-After)"
            for run in reversed(store.runs(source=name, limit=20)):
                if run["id"] > self._seen_run.get(name, 0) and run["status"] != "running":
                    self.metrics.observe_run(run, store.errors(run_id=run["id"], limit=10_000))
                    self._seen_run[name] = run["id"]
            self.metrics.failure_streak.labels(name).set(failures)
            self._check_health(store, name, failures)
            adapted = self._adapt(store, name, started, state)
            job = self.scheduler.get_job(name)
            store.save_schedule_state(
                name,
                last_run_at=started.isoformat(timespec="seconds"),
                last_status="ok" if not error else "failed",
                failures=failures,
                backoff_until=backoff,
                last_error=error,
                next_run_at=job.next_run_time.isoformat(timespec="seconds") if job and job.next_run_time else None,
                **adapted,
            )

    def _adapt(self, store: Store, name: str, started: datetime, state: dict) -> dict[str, object]:
        """Adaptive polling: the next poll of an ``every`` source follows its publishing rhythm
        (crawler/rhythm.py), learned from its stored articles; the interval and its reason are kept
        in the schedule state (a restart starts from them) and shown by ``crawler status``."""
        from crawler.rhythm import HISTORY, Rhythm, publication_times

        source = self.config.source(name)
        if source is None or not schedule.adaptive(source):
            return {"interval_seconds": None, "interval_reason": None}
        now = _utcnow()
        rows = store.recent_articles(name, (now - HISTORY).isoformat(timespec="seconds"))
        rhythm = Rhythm.learn(publication_times([(first, published) for _url, first, _fetched, published in rows]), now)
        interval, reason = rhythm.interval(source.schedule.every, now)
        jitter = timedelta(seconds=random.uniform(0, source.schedule.jitter.total_seconds()))
        at = max(started + interval + jitter, now + timedelta(seconds=1)).astimezone(schedule.SHANGHAI)
        try:
            self.scheduler.modify_job(name, next_run_time=at)
        except JobLookupError:  # unscheduled meanwhile
            pass
        if reason != state.get("interval_reason"):
            log.info("%s: polling every %s (%s)", name, schedule.short(interval), reason)
        return {"interval_seconds": round(interval.total_seconds(), 1), "interval_reason": reason}

    def _check_health(self, store: Store, name: str, failures: int) -> None:
        """Operators' alerts: one when a source problem starts, one when it ends."""
        from crawler.alerts.health import conditions, ops_rows

        source = self.config.source(name)
        config = self.config.alerts_config()
        if source is None:
            return
        threshold = config.ops.failures if config.ops else 3
        found = conditions(store, source, failures, threshold)
        for condition, started, detail in store.health_transitions(name, found, ops_rows(config, source)):
            if started:
                log.warning("%s: source problem %s: %s", name, condition, detail)
            else:
                log.info("%s: source recovered from %s", name, condition)
