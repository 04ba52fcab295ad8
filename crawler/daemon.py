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

The parts: this module starts polls and stops; crawler/schedule.py says when
(triggers, first runs, back-off), crawler/polls.py records what a poll did,
crawler/delivery.py sends alerts and prunes, crawler/watcher.py follows config/,
crawler/workers.py queues polls on Redis and runs the ingest thread.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from crawler import schedule
from crawler.delivery import Delivery
from crawler.metrics import Metrics, MetricsServer
from crawler.polls import PollRecorder
from crawler.poolguard import PARENT_ENV
from crawler.schedule import SHANGHAI
from crawler.watcher import ConfigWatcher
from storage import Store

log = logging.getLogger("crawler.daemon")


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
        self._started = _utcnow()
        self.metrics = Metrics()
        self.http: MetricsServer | None = None
        self.scheduler = BackgroundScheduler(
            timezone=SHANGHAI,
            executors={"default": ThreadPoolExecutor(self.options.max_parallel)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": self.options.misfire_grace},
        )
        self.recorder = PollRecorder(self.db_path, self.config, self.metrics, self.scheduler)
        self.delivery = Delivery(self.db_path, self.config, self.metrics)
        self.redis = None  # crawler.workers.RedisPolls when scaling out on Redis

    # -- main loop ---------------------------------------------------------------------------
    def run(self) -> int:
        keep: set[int] = set()
        if self.options.redis_url:
            from crawler.workers import RedisPolls

            self.redis = RedisPolls(self.options.redis_url, self.db_path, self.config_dir, self.snapshot_dir,
                                    crawl_timeout=self.options.crawl_timeout, on_end=self._poll_ended)
            keep = self.redis.open_runs()
        with Store(self.db_path) as store:
            interrupted = store.mark_interrupted_runs(keep=keep)
            self.recorder.seen(store.runs(limit=1000))
        if interrupted:
            log.warning("recorded %d crawl run(s) cut off by the last shutdown as interrupted", interrupted)
        self.snapshot_dir.mkdir(parents=True, exist_ok=True)
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, lambda *_: self._reload_requested.set())
        self.reload(startup=True)
        self.scheduler.add_job(self.delivery.housekeeping, IntervalTrigger(hours=6), id="__housekeeping__",
                               next_run_time=datetime.now(SHANGHAI) + timedelta(minutes=1))
        self.scheduler.add_job(self.delivery.deliver, IntervalTrigger(seconds=self.options.deliver_every),
                               id="__deliver__", next_run_time=datetime.now(SHANGHAI))
        self.scheduler.start()
        if self.redis is not None:
            self.redis.start(self._stop.is_set, self._stop.set)
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
            "polls_on_workers": len(self.redis.polls) if self.redis else 0,  # open runs queued on Redis workers
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
        if self.redis is not None:
            self.redis.join(timeout=max(1.0, deadline - time.monotonic()))
        with Store(self.db_path) as store:
            store.mark_interrupted_runs(reason="shutdown")
        log.info("daemon stopped")

    # -- configuration -------------------------------------------------------------------------
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
            key = schedule.fingerprint(source)
            if self._job_keys.get(name) == key:
                continue
            first = schedule.first_run(source, states.get(name), _utcnow(), spread=self.options.startup_spread,
                                       index=index if startup else 0)
            trigger = schedule.trigger(source)
            if name in self._job_keys:
                self.scheduler.reschedule_job(name, trigger=trigger)
                log.info("%s: schedule changed to %s", name, schedule.describe(source))
            else:
                self.scheduler.add_job(self.crawl_job, trigger, args=[name], id=name, name=name, next_run_time=first)
                log.info("%s: scheduled %s, first run %s", name, schedule.describe(source), first.isoformat(timespec="seconds"))
            self._job_keys[name] = key

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
        if self.redis is not None:
            source = self.config.source(name)
            if source is not None:
                self.redis.queue(source, started)
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
            if code == 1 and self.recorder.portal_answered(name, started):
                error = None  # some pages failed, the portal is up: no back-off (they are fetched again next poll)
        except subprocess.TimeoutExpired:
            _terminate(proc)
            code, error = -1, f"crawl timed out after {self.options.crawl_timeout:.0f}s"
            log.error("%s: %s; stopped", name, error)
        finally:
            with self._lock:
                self._children.pop(name, None)
        if self._stop.is_set():  # stopped by the shutdown: not a failure of the portal; delivery resumes at restart
            log.info("%s: crawl stopped by the shutdown (exit status %s); what it stored is kept", name, code)
            return
        self._poll_ended(name, started, error)

    def _poll_ended(self, name: str, started: datetime, error: str | None) -> None:
        self.recorder.record(name, started, error)
        self.delivery.deliver()


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the crawl's process group, SIGKILL it if it lingers."""
    _signal_group(proc, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        _signal_group(proc, signal.SIGKILL)
        proc.wait()


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
