"""The ingester: the one process that writes SQLite when crawls run on Redis workers.

It reads the item stream with a consumer group and acknowledges a message only after
the transaction it caused committed; after a crash it reads its own unacknowledged
messages first. Applying a message twice is harmless (the same page again is
"unchanged"; no alert is queued twice), so at-least-once delivery is enough.
"""

from __future__ import annotations

import json
import logging
import math
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from crawler.alerts.config import load_alerts
from crawler.alerts.rules import make_router
from crawler.dedupe import Fingerprint, signature_from_bytes
from crawler.frontier import GROUP, INGEST_LOCK, MIRROR, STREAM, Frontier, decode_signature, epoch
from crawler.sources import Source
from crawler.stage import store_article
from storage import StorageFull, Store
from storage.runs import process_alive

log = logging.getLogger("crawler.ingest")

CONSUMER = "ingester"
LOCK_TTL = 10  # seconds
OUTCOMES = ("new", "changed", "duplicate", "unchanged")

# (source, run id, error or None), called when a run ends: finished, or cut off at its timeout
RunEnded = Callable[[str, int, str | None], None]


class IngestLocked(RuntimeError):
    """Another ingester holds the lock."""


class Ingester:
    def __init__(self, frontier: Frontier, db_path: Path, config_dir: Path, *, crawl_timeout: float = 900.0,
                 on_run_end: RunEnded | None = None):
        self.frontier = frontier
        self.redis = frontier.redis
        self.db_path = Path(db_path)
        self.crawl_timeout = crawl_timeout
        self.on_run_end = on_run_end
        self.router = make_router(load_alerts(config_dir))
        self.store = Store(db_path)
        self.applied = 0
        self._fetched: dict[str, float] = {}  # mirror entries of the batch, written with its acknowledgements
        self._validators: dict[str, tuple[str | None, str | None]] = {}
        self._last_expiry = 0.0

    def close(self) -> None:
        self.store.close()
        try:  # let the next ingester start at once
            if (self.redis.get(INGEST_LOCK) or b"").decode() == self.frontier.worker:
                self.redis.delete(INGEST_LOCK)
        except redis.RedisError:
            pass

    # -- start-up ----------------------------------------------------------------------------------
    def prepare(self) -> None:
        self._lock()
        try:
            self.redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self.ensure_mirror()

    def _lock(self) -> None:
        """One ingester at a time; a lock left by a killed one lapses after LOCK_TTL (at once if it ran here)."""
        deadline = time.monotonic() + LOCK_TTL + 2
        while not self.redis.set(INGEST_LOCK, self.frontier.worker, nx=True, ex=LOCK_TTL):
            holder = (self.redis.get(INGEST_LOCK) or b"").decode()
            if holder == self.frontier.worker:
                return
            host, _, pid = holder.rpartition(":")
            if host == socket.gethostname() and pid.isdigit() and not process_alive(int(pid)):
                log.warning("the last ingester (%s) died; taking over its messages", holder)
                self.redis.delete(INGEST_LOCK)
                continue
            if time.monotonic() > deadline:
                raise IngestLocked(f"another ingester ({holder}) is running on {self.frontier.url}")
            time.sleep(0.5)

    def ensure_mirror(self) -> None:
        """Rebuild the workers' view of what is stored when Redis does not hold it (first start, Redis lost data)."""
        identity = str(self.db_path.resolve())
        if (self.redis.get(MIRROR) or b"").decode() == identity:
            return
        started, count = time.monotonic(), 0
        db = self.store.db
        fetched: dict[str, float] = {}
        validators = {}
        for url, key, last_fetched, etag, last_modified in db.execute(
            "SELECT url, url_key, last_fetched, etag, last_modified FROM articles"
        ):
            when = epoch(last_fetched) or 0.0
            fetched[url] = fetched[key or url] = when
            if etag or last_modified:
                validators[url] = (etag, last_modified)
            count += 1
            if len(fetched) >= 20_000:
                self.frontier.write_mirror(fetched, {})
                fetched = {}
        for (key,) in db.execute("SELECT url_key FROM url_aliases"):
            fetched[key] = math.inf
        for url, etag, last_modified in db.execute("SELECT url, etag, last_modified FROM page_validators"):
            validators[url] = (etag, last_modified)
        self.frontier.write_mirror(fetched, validators)
        self.redis.set(MIRROR, identity)
        log.info("mirror of %d stored article(s) rebuilt in Redis in %.1fs", count, time.monotonic() - started)

    # -- the loop ----------------------------------------------------------------------------------
    def run(self, should_stop: Callable[[], bool], block_ms: int = 1000) -> None:
        """Apply messages until ``should_stop()``; Redis and disk trouble are waited out, never fatal."""
        prepared = False
        backlog = True  # first our own unacknowledged messages (a crash left them), then new ones
        while not should_stop():
            try:
                if not prepared:
                    self.prepare()
                    prepared = True
                self.redis.set(INGEST_LOCK, self.frontier.worker, ex=LOCK_TTL)
                entries = self.redis.xreadgroup(GROUP, CONSUMER, {STREAM: "0" if backlog else ">"}, count=200,
                                                block=None if backlog else block_ms)
                messages = entries[0][1] if entries else []
                if backlog and not messages:
                    backlog = False
                self._apply_batch(messages)
                self.expire_stale()
            except IngestLocked:
                raise
            except redis.RedisError as exc:
                log.error("Redis unreachable at %s (%s); retrying in 2s", self.frontier.url, exc)
                prepared, backlog = False, True
                time.sleep(2)
            except StorageFull as exc:
                log.error("%s; the messages wait in Redis, retrying in 10s", exc)
                backlog = True
                time.sleep(10)

    def _apply_batch(self, messages: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        """Apply messages in one transaction per run of them, and acknowledge each run once it committed.

        A ``finished`` message ends a run of them: it is applied on its own, after what came
        before it committed (the end of a crawl run reads the run's decisions, and the daemon's
        callback opens its own connection to the database).
        """
        pending: list[tuple[bytes, str, str]] = []
        for message_id, fields in messages:
            kind, data = fields[b"t"].decode(), fields[b"d"].decode()
            if kind == "finished":
                self._commit(pending)
                pending = []
                self.apply(kind, data)
                self._flush([message_id])
                self.applied += 1
            else:
                pending.append((message_id, kind, data))
        self._commit(pending)

    def _commit(self, pending: list[tuple[bytes, str, str]]) -> None:
        if not pending:
            return
        try:
            with self.store.batch(savepoints=False):  # any failure rolls the whole batch back: it is read again
                for _, kind, data in pending:
                    self.apply(kind, data)
        except BaseException:  # nothing of the batch is stored or acknowledged: it is read again
            self._fetched, self._validators = {}, {}
            raise
        self._flush([message_id for message_id, _, _ in pending])
        self.applied += len(pending)

    def _flush(self, done: list[bytes]) -> None:
        fetched, validators = self._fetched, self._validators
        self._fetched, self._validators = {}, {}
        self.frontier.write_mirror(fetched, validators, acknowledge=done)

    def apply(self, kind: str, data: str) -> None:
        body: Any = json.loads(data)
        if kind == "article":
            self._article(body)
        elif kind == "touch":
            self.store.touch_article(body["url"])
            self._fetched[body["url"]] = time.time()
        elif kind == "error":
            self.store.record_error(run_id=body["run"], source=body["source"], url=body["url"], kind=body["kind"],
                                    message=body["message"], status=body["status"])
        elif kind == "pause":
            self.store.save_schedule_state(body["source"], backoff_until=body["until"])
        elif kind == "finished":
            self.finish(int(body))
        else:
            log.error("unknown message type %r in %s; skipped", kind, STREAM)

    def _article(self, body: dict[str, Any]) -> None:
        record, source = body["record"], body["source"]
        # its shingles are made from the body only if a near-duplicate candidate needs an exact check
        identity = Fingerprint(body["hash"], signature_from_bytes(decode_signature(body["signature"])), body["shingles"])
        decision = store_article(self.store, source, record, identity, run_id=body["run"], flags=body["flags"],
                                 router=self.router)
        when = math.inf if decision.outcome == "duplicate" else time.time()  # an alias is never fetched again
        self._fetched[record["url"]] = self._fetched[record["url_key"]] = when
        self._validators[record["url"]] = (record["etag"], record["last_modified"])
        if decision.outcome != "unchanged":
            detail = f" [{decision.detail}]" if decision.detail else ""
            log.info("%s: %s article #%d %s (%s)%s", source, decision.outcome, decision.article_id, record["title"],
                     record["url"], detail)

    # -- the end of a run ----------------------------------------------------------------------------
    def finish(self, run: int, reason: str = "finished") -> None:
        rows = self.store.db.execute("SELECT source, status FROM crawl_runs WHERE id = ?", [run]).fetchall()
        if not rows or rows[0][1] != "running":
            self.frontier.close_run(run)
            return
        name = rows[0][0]
        counts = self._counts(run)
        clean = reason == "finished" and counts["errors"] == 0
        text = self.frontier.source_json(name)
        validators = self.frontier.run_list_validators(run) if clean else {}
        status = "ok" if clean else ("errors" if reason == "finished" else "interrupted")
        self.store.end_crawl(
            run, name, Source.model_validate_json(text).start_urls if text else [], clean=clean, status=status,
            reason=reason, counts=counts, validators=validators,
        )
        self._validators.update(validators)
        self.frontier.close_run(run)
        log.info("%s: run %d %s: %s", name, run, status, ", ".join(f"{k} {v}" for k, v in counts.items() if v))
        if self.on_run_end is not None:
            error = None if reason == "finished" else f"crawl {reason}"
            if counts["pages_fetched"] + counts["not_modified"] == 0 and counts["errors"]:
                error = "no page could be fetched from the portal"  # a failure, as for a crawl in one process
            self.on_run_end(name, run, error)

    def _counts(self, run: int) -> dict[str, int]:
        stats = self.frontier.run_stats(run)
        counts = {"pages_fetched": stats.get("pages_fetched", 0), "not_modified": stats.get("not_modified", 0)}
        outcomes = dict(self.store.db.execute(
            "SELECT decision, COUNT(*) FROM decisions WHERE run_id = ? GROUP BY decision", [run]).fetchall())
        for outcome in OUTCOMES:
            counts[f"articles_{outcome}"] = outcomes.get(outcome, 0)
        counts["errors"] = self.store.db.execute(
            "SELECT COUNT(*) FROM fetch_errors WHERE run_id = ? AND kind != 'robots_disallowed'", [run]).fetchone()[0]
        return counts

    def expire_stale(self) -> None:
        """A run still open after the crawl timeout is closed as timed out (its leftovers are dropped)."""
        if time.monotonic() - self._last_expiry < 5:
            return
        self._last_expiry = time.monotonic()
        for run, info in self.frontier.open_runs().items():
            if time.time() - info["started"] > self.crawl_timeout:
                log.error("%s: run %d still open after %.0fs; closed as timed out", info["source"], run, self.crawl_timeout)
                self.finish(run, reason="timeout")
