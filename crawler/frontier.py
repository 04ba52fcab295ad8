"""Scale-out state in Redis: the shared frontier, crawls in flight, the item stream and the mirror.

With ``CRAWLER_REDIS_URL`` set, the work of a crawl is split up (docs/scaling.md):

* the scheduler (``crawler run`` / ``crawler crawl``) opens a run in SQLite and pushes the
  run's list-page requests into the shared request queue (scrapy-redis's priority queue);
* any number of ``crawler worker`` processes pop requests, fetch and extract, and push what
  they found (articles, 304s, errors) onto a Redis stream;
* one ingester pops the stream, stores in SQLite (the single writer) and fills the alert
  outbox; a message is acknowledged only after its transaction committed.

Every request of a run is an entry in the run's *in-flight* hash from the moment it is
made until the messages it produced are on the stream; the same Lua script that pushes
those messages removes the entry, and pushes ``finished`` when the hash becomes empty.
While a worker holds a request (popped, or made and not yet queued) it has a *claim* on
it; a worker whose heartbeat key expired loses its claims and another worker queues those
requests again. The mirror (stored URLs with their last fetch time, ETag/Last-Modified)
lets workers skip what is stored without reading SQLite; the ingester keeps it and
rebuilds it when Redis lost it.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import time
from datetime import datetime
from typing import Any

import redis

log = logging.getLogger(__name__)

QUEUE = "crawler:requests"  # scrapy-redis priority queue (the shared frontier)
DUPEFILTER = "crawler:dupefilter"  # scrapy-redis's; unused, every request is dont_filter (see spiders/worker.py)
SOURCES = "crawler:sources"  # source name -> the Source as JSON (workers need no config folder)
RUNS = "crawler:runs"  # open run id -> {"source", "started"}
CLAIMS = "crawler:claims"  # "run|field" -> worker id holding that request
STREAM = "crawler:items"  # what workers found, for the ingester
GROUP = "ingest"
VALIDATORS = "crawler:validators"  # mirror: URL -> [ETag, Last-Modified]
FETCHED = "crawler:fetched"  # mirror: URL and URL key -> last fetch (epoch; +inf: an alias, never re-fetched)
MIRROR = "crawler:mirror"  # set once the mirror holds the database named in it
INGEST_LOCK = "crawler:ingest:lock"


def run_key(run: int, part: str) -> str:
    """A run's keys: ``inflight`` (field -> request), ``seen`` (article fields asked for),
    ``stats`` (page counters), ``validators`` (list pages' ETag/Last-Modified, saved after a clean run)."""
    return f"crawler:run:{run}:{part}"


def inflight_key(run: int) -> str:
    return run_key(run, "inflight")


def run_keys(run: int) -> list[str]:
    return [run_key(run, part) for part in ("inflight", "seen", "stats", "validators")]


def worker_key(worker: str) -> str:
    return f"crawler:worker:{worker}"


def paused_key(source: str) -> str:
    return f"crawler:paused:{source}"


def connect(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=5, health_check_interval=30)


def epoch(iso: str | None) -> float | None:
    return datetime.fromisoformat(iso).timestamp() if iso else None


# KEYS: inflight, claims, stream, seen. ARGV: run, worker, parent field, then per child: field, request, dedupe (0/1).
# Registers the children a callback made (claimed by this worker until they are queued) and retires the
# parent; returns {finished (0/1), the fields taken...}. An article child already in this run's seen set
# is dropped: every article page is asked for once per run, whichever worker reads which list page.
_EXPAND = """
local taken = {0}  -- first: finished (1/0)
for i = 4, #ARGV, 3 do
  local take = 1
  if ARGV[i + 2] == '1' then take = redis.call('SADD', KEYS[4], ARGV[i]) end
  if take == 1 then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    redis.call('HSET', KEYS[2], ARGV[1] .. '|' .. ARGV[i], ARGV[2])
    table.insert(taken, ARGV[i])
  end
end
local removed = redis.call('HDEL', KEYS[1], ARGV[3])
redis.call('HDEL', KEYS[2], ARGV[1] .. '|' .. ARGV[3])
if removed == 1 and redis.call('HLEN', KEYS[1]) == 0 then
  redis.call('XADD', KEYS[3], '*', 't', 'finished', 'd', ARGV[1])
  taken[1] = 1
end
return taken
"""

# KEYS: inflight, claims, stream. ARGV: run, field, message type ('' for none), message.
# Pushes the request's message and retires the request in one step: a kill between the two
# can neither lose the message nor leave the request waiting for ever. A second copy of a
# request (queued again after a crash while the first still ran) finds its entry gone and
# reports nothing; so does a request of a run already closed at its timeout.
_COMPLETE = """
local removed = redis.call('HDEL', KEYS[1], ARGV[2])
redis.call('HDEL', KEYS[2], ARGV[1] .. '|' .. ARGV[2])
if removed == 1 and ARGV[3] ~= '' then redis.call('XADD', KEYS[3], '*', 't', ARGV[3], 'd', ARGV[4]) end
if removed == 1 and redis.call('HLEN', KEYS[1]) == 0 then
  redis.call('XADD', KEYS[3], '*', 't', 'finished', 'd', ARGV[1])
  return 1
end
return 0
"""

# KEYS: inflight, claims. ARGV: claim field, request field, worker. Claim a popped request if its run still
# waits for it (a request of a run that timed out, or a copy already done, is dropped).
_CLAIM = """
if redis.call('HEXISTS', KEYS[1], ARGV[2]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return 1
"""

# KEYS: claims. ARGV: claim field, worker. Drop a claim only if this worker still holds it.
_RELEASE = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
"""

# KEYS: claims, inflight. ARGV: claim field, dead worker, new worker, request field. Take over a dead
# worker's claim; returns the request to queue again, or false.
_RECLAIM = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return false end
local request = redis.call('HGET', KEYS[2], ARGV[4])
if not request then redis.call('HDEL', KEYS[1], ARGV[1]) return false end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return request
"""


def claim_field(run: int, field: str) -> str:
    return f"{run}|{field}"


class Frontier:
    """The Redis side of scale-out, as workers, the scheduler and the ingester use it."""

    def __init__(self, url: str, worker: str | None = None):
        self.url = url
        self.redis = connect(url)
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}"
        self._expand = self.redis.register_script(_EXPAND)
        self._complete = self.redis.register_script(_COMPLETE)
        self._claim = self.redis.register_script(_CLAIM)
        self._release = self.redis.register_script(_RELEASE)
        self._reclaim = self.redis.register_script(_RECLAIM)

    # -- requests of a run ---------------------------------------------------------------------
    def expand(self, run: int, parent: str, children: list[tuple[str, bytes, bool]]) -> set[str]:
        """Register ``children`` (field, serialized request, de-duplicate?) and retire ``parent``;
        the fields of the children taken (an article already asked for in this run is not)."""
        argv: list[Any] = [run, self.worker, parent]
        for field, request, dedupe in children:
            argv += [field, request, "1" if dedupe else "0"]
        result = self._expand(keys=[inflight_key(run), CLAIMS, STREAM, run_key(run, "seen")], args=argv)
        return {f.decode() for f in result[1:]}

    def complete(self, run: int, field: str, message: tuple[str, dict[str, Any]] | None = None) -> bool:
        kind, body = message or ("", {})
        return bool(self._complete(
            keys=[inflight_key(run), CLAIMS, STREAM],
            args=[run, field, kind, json.dumps(body, ensure_ascii=False) if kind else ""],
        ))

    def claim(self, run: int, field: str) -> bool:
        return bool(self._claim(keys=[inflight_key(run), CLAIMS], args=[claim_field(run, field), field, self.worker]))

    def release(self, run: int, field: str) -> None:
        self._release(keys=[CLAIMS], args=[claim_field(run, field), self.worker])

    def heartbeat(self, ttl: float) -> None:
        self.redis.set(worker_key(self.worker), str(time.time()), px=int(ttl * 1000))

    def orphans(self) -> list[tuple[int, str, bytes]]:
        """Requests held by workers whose heartbeat expired, now claimed by this worker: (run, field, request)."""
        holders = {}
        for key, worker in self.redis.hscan_iter(CLAIMS):
            holders.setdefault(worker.decode(), []).append(key.decode())
        taken = []
        for worker, keys in holders.items():
            if worker == self.worker or self.redis.exists(worker_key(worker)):
                continue
            before = len(taken)
            for key in keys:
                run, field = key.split("|", 1)
                request = self._reclaim(keys=[CLAIMS, inflight_key(int(run))], args=[key, worker, self.worker, field])
                if request:
                    taken.append((int(run), field, request))
            if len(taken) > before:
                log.warning("worker %s is gone: %d request(s) it held are queued again", worker, len(taken) - before)
        return taken

    def unheld(self) -> dict[tuple[int, str], bytes]:
        """In-flight requests of open runs that no worker holds while the shared queue is empty: a worker
        killed between popping a request and claiming it lost them. (run, field) -> request. A live
        worker is in that state for a moment only; the caller takes what it sees twice, ``ttl`` apart."""
        if self.redis.zcard(QUEUE):
            return {}
        claimed = {key.decode() for key in self.redis.hkeys(CLAIMS)}
        found = {}
        for run in self.open_runs():
            for field, request in self.redis.hscan_iter(inflight_key(run)):
                if claim_field(run, field.decode()) not in claimed:
                    found[(run, field.decode())] = request
        return found

    def push_message(self, kind: str, body: dict[str, Any]) -> None:
        self.redis.xadd(STREAM, {"t": kind, "d": json.dumps(body, ensure_ascii=False)})

    def bump(self, run: int, counter: str) -> None:
        self.redis.hincrby(run_key(run, "stats"), counter, 1)

    # -- what workers read ---------------------------------------------------------------------
    def source_json(self, name: str) -> str | None:
        value = self.redis.hget(SOURCES, name)
        return value.decode() if value else None

    def validator(self, url: str) -> tuple[str | None, str | None]:
        value = self.redis.hget(VALIDATORS, url)
        if not value:
            return None, None
        etag, last_modified = json.loads(value)
        return etag, last_modified

    def fresh(self, urls: dict[str, str], recheck_before: str | None = None) -> set[str]:
        """The URLs (mapped to their URL keys) stored and fetched since ``recheck_before`` (any time: None)."""
        if not urls:
            return set()
        members = [*urls.keys(), *urls.values()]
        scores = dict(zip(members, self.redis.zmscore(FETCHED, members)))
        cutoff = epoch(recheck_before)
        def ok(score: float | None) -> bool:
            return score is not None and (cutoff is None or score >= cutoff)
        return {url for url, key in urls.items() if ok(scores[url]) or ok(scores[key])}

    def paused_until(self, source: str) -> datetime | None:
        value = self.redis.get(paused_key(source))
        return datetime.fromisoformat(value.decode()) if value else None

    def pause(self, source: str, until: datetime) -> None:
        seconds = max(1, int(until.timestamp() - time.time()))
        self.redis.set(paused_key(source), until.isoformat(timespec="seconds"), ex=seconds)
        self.push_message("pause", {"source": source, "until": until.isoformat(timespec="seconds")})

    def save_list_validators(self, run: int, url: str, validators: tuple[str | None, str | None]) -> None:
        self.redis.hset(run_key(run, "validators"), url, json.dumps(validators))

    # -- the scheduler's side ------------------------------------------------------------------
    def open_runs(self) -> dict[int, dict[str, Any]]:
        return {int(run): json.loads(info) for run, info in self.redis.hgetall(RUNS).items()}

    def open_run(self, run: int, source_name: str, source_json: str, requests: list[tuple[str, bytes]]) -> None:
        """Publish the source and record the run with its first requests (queued by the caller): its
        list requests and the revisits that are due."""
        pipe = self.redis.pipeline()
        pipe.hset(SOURCES, source_name, source_json)
        pipe.hset(RUNS, str(run), json.dumps({"source": source_name, "started": time.time()}))
        pipe.hset(inflight_key(run), mapping=dict(requests))
        articles = [field for field, _ in requests if field.startswith("a:")]  # revisits: not asked again in the run
        if articles:
            pipe.sadd(run_key(run, "seen"), *articles)
        pipe.execute()

    def close_run(self, run: int) -> None:
        """Forget a run: its keys, its claims (its requests still queued are dropped when popped)."""
        prefix = f"{run}|"
        stale = [key for key, _ in self.redis.hscan_iter(CLAIMS, match=f"{prefix}*")]
        pipe = self.redis.pipeline()
        if stale:
            pipe.hdel(CLAIMS, *stale)
        pipe.delete(*run_keys(run))
        pipe.hdel(RUNS, str(run))
        pipe.execute()

    def run_stats(self, run: int) -> dict[str, int]:
        return {k.decode(): int(v) for k, v in self.redis.hgetall(run_key(run, "stats")).items()}

    def run_list_validators(self, run: int) -> dict[str, tuple[str | None, str | None]]:
        return {k.decode(): tuple(json.loads(v)) for k, v in self.redis.hgetall(run_key(run, "validators")).items()}

    # -- the mirror (written by the ingester only) ---------------------------------------------
    def write_mirror(self, fetched: dict[str, float], validators: dict[str, tuple[str | None, str | None]],
                     acknowledge: list[bytes] | None = None) -> None:
        """New mirror entries (and the stream messages whose commit made them, acknowledged), in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        if fetched:
            pipe.zadd(FETCHED, fetched)
        if validators:
            pipe.hset(VALIDATORS, mapping={url: json.dumps(list(v)) for url, v in validators.items()})
        if acknowledge:
            pipe.xack(STREAM, GROUP, *acknowledge)
            pipe.xdel(STREAM, *acknowledge)
        pipe.execute()


def encode_signature(blob: bytes) -> str:
    return base64.b64encode(blob).decode("ascii")


def decode_signature(text: str) -> bytes:
    return base64.b64decode(text)

