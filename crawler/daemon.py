"""`crawler run`: the long-running scheduler.

One process schedules; every crawl runs in a child process (`crawler crawl
SOURCE`) so that a hung crawl can always be killed at its timeout, Scrapy's
reactor is fresh each time, and the daemon's memory stays flat.

* APScheduler 3 BackgroundScheduler, a bounded thread pool (one thread waits
  on one child), ``max_instances=1`` (never two crawls of a source),
  ``coalesce=True`` and an explicit ``misfire_grace_time``.
* Source files and alerts.yaml are re-read on SIGHUP and whenever their mtimes
  change (crawler/watcher.py); a broken file is reported as ``FILE: field: message``
  and the last good version keeps running (the child crawls a snapshot of it).
* Schedule state (last run, result, failure streak, back-off, the adaptive
  interval) is kept in SQLite; on start, sources are spread out instead of all
  polled at once.
* Adaptive polling: after each crawl of a ``schedule.every`` source its next
  poll is set from its publishing rhythm (crawler/rhythm.py), unless
  ``schedule.adaptive: false``; cron sources stay fixed.
* SIGTERM/SIGINT: no crawl starts any more; running crawls are told to stop at
  once and killed after ``grace`` seconds; exit 0. A crawl cut off (timeout,
  kill -9) is recorded as interrupted on the next start.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from crawler.metrics import Metrics, MetricsServer
from crawler.sources import Source
from crawler.watcher import ConfigWatcher
from storage import Store

log = logging.getLogger("crawler.daemon")
SHANGHAI = timezone(timedelta(hours=8))
MAX_BACKOFF = timedelta(hours=6)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class DaemonOptions:
    max_parallel: int = 2  # crawls at once overall
    crawl_timeout: float = 900.0  # a crawl running longer is killed
    grace: float = 8.0  # on SIGTERM/SIGINT, how long running crawls get to stop before they are killed
    reload_every: float = 5.0  # how often source files' mtimes are checked
    misfire_grace: int = 600  # a run late by up to this many seconds still runs
    startup_spread: float = 30.0  # first runs of overdue sources are spread over this many seconds
    http: tuple[str, int] | None = None  # serve /metrics and /healthz here
    deliver_every: float = 5.0  # seconds between runs of the alert delivery job
    redis_url: str | None = None  # set: polls are queued for `crawler worker`s and ingested here (docs/scaling.md)


PARENT_ENV = "CRAWLER_DAEMON_PID"


def die_with_parent() -> None:
    """Called by a crawl child: get SIGKILL when the daemon dies, even by kill -9 (Linux).

    Done in the child itself, not with ``preexec_fn`` (unsafe in a threaded parent).
    """
    parent = os.environ.get(PARENT_ENV)
    if not parent:
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != int(parent):  # the daemon died before prctl took effect
        os._exit(1)


class Daemon:
    def __init__(self, config_dir: Path, db_path: Path, options: DaemonOptions | None = None):
        self.config_dir = Path(config_dir)
        self.db_path = Path(db_path)
        self.options = options or DaemonOptions()
        self.snapshot_dir = self.db_path.parent / ".snapshots" / "sources"
        self.config = ConfigWatcher(self.config_dir, self.snapshot_dir)
        self._stop = threading.Event()
        self._reload_requested = threading.Event()
        self._lock = threading.RLock()  # also taken by the signal handler, in the main thread
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._job_keys: dict[str, str] = {}  # source name -> schedule fingerprint
        self._seen_run: dict[str, int] = {}  # last crawl_runs id turned into metrics, per source
        self._started = _utcnow()
        self.metrics = Metrics()
        self.http: MetricsServer | None = None
        self.frontier = None  # crawler.frontier.Frontier when scaling out on Redis
        self._polls: dict[int, datetime] = {}  # open run on the workers -> when it was queued
        self._ingest_thread: threading.Thread | None = None
        self.scheduler = BackgroundScheduler(
            timezone=SHANGHAI,
            executors={"default": ThreadPoolExecutor(self.options.max_parallel)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": self.options.misfire_grace},
        )

    # -- main loop ---------------------------------------------------------------------------
    def run(self) -> int:
        keep: set[int] = set()
        if self.options.redis_url:
            from crawler.frontier import Frontier

            self.frontier = Frontier(self.options.redis_url)
            keep = set(self.frontier.open_runs())  # the workers are still at them; the ingester finishes them
        with Store(self.db_path) as store:
            interrupted = store.mark_interrupted_runs(keep=keep)
            for run in store.runs(limit=1000):
                self._seen_run.setdefault(run["source"], run["id"])
        if interrupted:
            log.warning("recorded %d crawl run(s) cut off by the last shutdown as interrupted", interrupted)
        self.snapshot_dir.mkdir(parents=True, exist_ok=True)
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, lambda *_: self._reload_requested.set())
        self.reload(startup=True)
        self.scheduler.add_job(self.housekeeping, IntervalTrigger(hours=6), id="__housekeeping__",
                               next_run_time=datetime.now(SHANGHAI) + timedelta(minutes=1))
        self.scheduler.add_job(self.deliver, IntervalTrigger(seconds=self.options.deliver_every), id="__deliver__",
                               next_run_time=datetime.now(SHANGHAI))
        self.scheduler.start()
        if self.frontier is not None:
            self._ingest_thread = threading.Thread(target=self._ingest, name="ingest", daemon=True)
            self._ingest_thread.start()
        if self.options.http:
            self.http = MetricsServer(self.metrics, self.health, *self.options.http).start()
            log.info("metrics on %s/metrics, health on %s/healthz", self.http.address, self.http.address)
        log.info("daemon started: %d source(s), database %s", len(self._job_keys), self.db_path)
        while not self._stop.wait(self.options.reload_every):
            self._reload_requested.clear()
            self.reload()
            while self._reload_requested.is_set() and not self._stop.is_set():
                self._reload_requested.clear()
                self.reload()
        self._shutdown()
        return 0

    def _on_stop(self, signum: int, _frame: object) -> None:
        if self._stop.is_set():
            return
        with self._lock:  # from here no crawl starts (crawl_job checks under the same lock)
            self._stop.set()
            running = sorted(self._children)
        what = f"stopping {len(running)} running crawl(s): {', '.join(running)}" if running else "no crawl is running"
        log.info("received %s: stopping; %s", signal.Signals(signum).name, what)

    def health(self) -> tuple[bool, dict[str, object]]:
        with self._lock:
            running = sorted(self._children)
        ok = self.scheduler.running and not self._stop.is_set()
        with Store(self.db_path, readonly=True) as store:
            outbox = store.outbox_counts()
        return ok, {
            "uptime_seconds": round((_utcnow() - self._started).total_seconds()),
            "alerts_pending": outbox.get("pending", 0),
            "alerts_dead": outbox.get("dead", 0),
            "sources": sorted(self._job_keys),
            "crawls_running": running,
            "polls_on_workers": len(self._polls),  # open runs queued on Redis workers (scale-out)
            "config_errors": self.config.config_errors,
        }

    def _shutdown(self) -> None:
        """No crawl starts; running crawls are asked to stop now (SIGTERM: Scrapy closes the spider and
        keeps what is stored) and killed after ``grace`` seconds (a kill loses nothing either)."""
        if self.http is not None:
            self.http.stop()
        self.scheduler.shutdown(wait=False)
        with self._lock:
            children = dict(self._children)
        for proc in children.values():
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + self.options.grace
        for name, proc in children.items():
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s: crawl still running %.0fs after the stop request; killing it", name, self.options.grace)
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
        if self._ingest_thread is not None:
            self._ingest_thread.join(timeout=max(1.0, deadline - time.monotonic()))
        with Store(self.db_path) as store:
            store.mark_interrupted_runs(reason="shutdown")
        log.info("daemon stopped")

    # -- configuration -------------------------------------------------------------------------
    def deliver(self) -> None:
        """Send due alerts (a job of its own, and after every crawl)."""
        dispatcher = self.config.dispatcher
        if dispatcher is None:
            return
        with Store(self.db_path) as store:
            for outcome, count in dispatcher.deliver_due(store).items():
                self.metrics.alerts_sent.labels(outcome).inc(count)
            counts = store.outbox_counts()
        for status in ("pending", "sent", "dead"):
            self.metrics.outbox.labels(status).set(counts.get(status, 0))

    def reload(self, startup: bool = False) -> None:
        """Apply added, changed and removed source files (and a changed alerts.yaml)."""
        self.config.reload_alerts()
        if self.config.reload_sources(startup):
            self.metrics.config_errors.set(self.config.config_errors)
            self._sync_jobs(startup)

    def _sync_jobs(self, startup: bool) -> None:
        wanted = self.config.enabled()
        for name in set(self._job_keys) - set(wanted):
            self.scheduler.remove_job(name)
            del self._job_keys[name]
            log.info("%s: unscheduled", name)
        with Store(self.db_path) as store:
            states = store.schedule_state()
        for index, (name, source) in enumerate(sorted(wanted.items())):
            key = _fingerprint(source)
            if self._job_keys.get(name) == key:
                continue
            first = self._first_run(source, states.get(name), index if startup else 0)
            trigger = _trigger(source)
            if name in self._job_keys:
                self.scheduler.reschedule_job(name, trigger=trigger)
                log.info("%s: schedule changed to %s", name, _describe(source))
            else:
                self.scheduler.add_job(self.crawl_job, trigger, args=[name], id=name, name=name, next_run_time=first)
                log.info("%s: scheduled %s, first run %s", name, _describe(source), first.isoformat(timespec="seconds"))
            self._job_keys[name] = key

    def _first_run(self, source: Source, state: dict | None, index: int) -> datetime:
        now = datetime.now(SHANGHAI)
        spread = min(self.options.startup_spread, _interval_seconds(source))
        if state and state.get("last_run_at"):
            learned = state.get("interval_seconds") if _adaptive(source) else None  # kept across the restart
            due = datetime.fromisoformat(state["last_run_at"]).astimezone(SHANGHAI) + timedelta(
                seconds=learned or _interval_seconds(source))
            if due > now:
                return due
        return now + timedelta(seconds=random.uniform(0, spread) if index else 0)

    # -- jobs ------------------------------------------------------------------------------------
    def crawl_job(self, name: str) -> None:
        if self._stop.is_set():
            return
        with Store(self.db_path) as store:
            state = store.schedule_state(name).get(name, {})
        backoff = state.get("backoff_until")
        if backoff and datetime.fromisoformat(backoff) > _utcnow():
            log.info("%s: backing off until %s after %d failure(s): %s", name, backoff, state.get("failures", 0), state.get("last_error"))
            return
        started = _utcnow()
        if self.frontier is not None:
            self._queue_poll(name, started)
            return
        command = [sys.executable, "-m", "crawler", "--config", str(self.snapshot_dir.parent), "--db", str(self.db_path), "crawl", name]
        with self._lock:  # no crawl starts once shutdown has begun
            if self._stop.is_set():
                return
            env = {**os.environ, PARENT_ENV: str(os.getpid()), "CRAWLER_ALERTS_FILE": str(self.snapshot_dir.parent / "alerts.yaml")}
            proc = subprocess.Popen(command, start_new_session=True, env=env)
            self._children[name] = proc
        try:
            code = proc.wait(timeout=self.options.crawl_timeout)
            error = None if code == 0 else f"crawl exited with status {code}"
            if code == 1 and self._portal_answered(name, started):
                error = None  # some pages failed, the portal is up: no back-off (they are fetched again next poll)
        except subprocess.TimeoutExpired:
            self._terminate(proc)
            code, error = -1, f"crawl timed out after {self.options.crawl_timeout:.0f}s"
            log.error("%s: %s; stopped", name, error)
        finally:
            with self._lock:
                self._children.pop(name, None)
        if self._stop.is_set():  # stopped by the shutdown: not a failure of the portal; delivery resumes at restart
            log.info("%s: crawl stopped by the shutdown (exit status %s); what it stored is kept", name, code)
            return
        self._record(name, started, error)
        self.deliver()

    # -- scale-out on Redis ------------------------------------------------------------------------
    def _queue_poll(self, name: str, started: datetime) -> None:
        """Queue a poll for the workers; it is recorded when the ingester sees it finish (or time out)."""
        from spiders.worker import open_poll

        source = self.config.source(name)
        try:
            if any(info["source"] == name for info in self.frontier.open_runs().values()):
                log.info("%s: the last poll is still running on the workers; this one is skipped", name)
                return
            with Store(self.db_path) as store:
                run = open_poll(self.frontier, store, source, str(self.snapshot_dir / f"{name}.yaml"))
        except Exception as exc:  # noqa: BLE001 - Redis down: a failed poll, retried with back-off
            log.error("%s: could not queue the poll in Redis: %s", name, exc)
            self._record(name, started, f"could not queue the poll in Redis: {exc}")
            return
        self._polls[run] = started
        log.info("%s: poll queued for the workers (run %d)", name, run)

    def _ingest(self) -> None:
        from crawler.ingest import Ingester

        ingester = Ingester(self.frontier, self.db_path, self.config_dir, crawl_timeout=self.options.crawl_timeout,
                            on_run_end=self._run_ended)
        try:
            ingester.run(self._stop.is_set)
        except Exception:  # noqa: BLE001
            log.exception("the ingester stopped; stopping the daemon")
            self._stop.set()
        finally:
            ingester.close()

    def _run_ended(self, name: str, run: int, error: str | None) -> None:
        self._record(name, self._polls.pop(run, _utcnow()), error)
        self.deliver()

    def _portal_answered(self, name: str, started: datetime) -> bool:
        """Did the last crawl of ``name`` get any page (200 or 304) from the portal?"""
        with Store(self.db_path) as store:
            runs = store.runs(source=name, limit=1)
        if not runs or runs[0]["started_at"] < started.isoformat(timespec="seconds"):
            return False
        return (runs[0]["pages_fetched"] or 0) + (runs[0]["not_modified"] or 0) > 0

    def _record(self, name: str, started: datetime, error: str | None) -> None:
        with Store(self.db_path) as store:
            if error and "timed out" in error:
                store.mark_interrupted_runs(name, reason="timeout")
                store.record_error(run_id=None, source=name, url="", kind="crawl_timeout", message=error)
            state = store.schedule_state(name).get(name, {})
            failures = (state.get("failures") or 0) + 1 if error else 0
            backoff = None
            if failures >= 2:
                source = self.config.source(name)
                base = _interval_seconds(source) if source else 60.0
                delay = min(timedelta(seconds=base * 2 ** (failures - 1)), MAX_BACKOFF)
                backoff = (_utcnow() + delay).isoformat(timespec="seconds")
            # The crawl itself may have paused the source (429/503 with Retry-After): keep the later time.
            asked = state.get("backoff_until")
            if asked and datetime.fromisoformat(asked) > _utcnow() and (backoff is None or asked > backoff):
                backoff = asked
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
        if source is None or not _adaptive(source):
            return {"interval_seconds": None, "interval_reason": None}
        now = _utcnow()
        rows = store.recent_articles(name, (now - HISTORY).isoformat(timespec="seconds"))
        rhythm = Rhythm.learn(publication_times([(first, published) for _url, first, _fetched, published in rows]), now)
        interval, reason = rhythm.interval(source.schedule.every, now)
        jitter = timedelta(seconds=random.uniform(0, source.schedule.jitter.total_seconds()))
        at = max(started + interval + jitter, now + timedelta(seconds=1)).astimezone(SHANGHAI)
        try:
            self.scheduler.modify_job(name, next_run_time=at)
        except JobLookupError:  # unscheduled meanwhile
            pass
        if reason != state.get("interval_reason"):
            log.info("%s: polling every %s (%s)", name, _short(interval), reason)
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

    @staticmethod
    def _terminate(proc: subprocess.Popen[bytes]) -> None:
        """SIGTERM the crawl's process group, SIGKILL it if it lingers."""
        _signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()

    def housekeeping(self) -> None:
        now = _utcnow()
        with Store(self.db_path) as store:
            errors, runs = store.prune(
                errors_before=(now - timedelta(days=30)).isoformat(timespec="seconds"),
                runs_before=(now - timedelta(days=90)).isoformat(timespec="seconds"),
            )
        if errors or runs:
            log.info("housekeeping: pruned %d fetch errors and %d crawl runs", errors, runs)


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def _adaptive(source: Source) -> bool:
    return source.schedule.every is not None and source.schedule.adaptive


def _short(interval: timedelta) -> str:
    minutes = interval.total_seconds() / 60
    return f"{minutes:.0f}m" if minutes >= 1 else f"{interval.total_seconds():.0f}s"


def _interval_seconds(source: Source) -> float:
    if source.schedule.every is not None:
        return source.schedule.every.total_seconds()
    return 3600.0


def _trigger(source: Source):
    jitter = int(source.schedule.jitter.total_seconds()) or None
    if source.schedule.cron:
        return CronTrigger(**_cron_fields(source.schedule.cron), timezone=SHANGHAI, jitter=jitter)
    return IntervalTrigger(seconds=_interval_seconds(source), jitter=jitter, timezone=SHANGHAI)


def _cron_fields(expression: str) -> dict[str, str]:
    minute, hour, day, month, day_of_week = expression.split()
    return {"minute": minute, "hour": hour, "day": day, "month": month, "day_of_week": day_of_week}


def _describe(source: Source) -> str:
    schedule = source.schedule
    if schedule.cron:
        return f"cron '{schedule.cron}'"
    return f"every {schedule.every}" + (" (adaptive: every/4 .. every*4)" if schedule.adaptive else "")


def _fingerprint(source: Source) -> str:
    return hashlib.sha1(source.schedule.model_dump_json().encode()).hexdigest()
