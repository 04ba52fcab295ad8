"""Prometheus metrics and a health check for the daemon, on 127.0.0.1 only.

Crawls run in child processes and write their outcome to SQLite; the daemon
turns each finished run (and its fetch errors) into metrics, so the database
stays the single source of truth.

    GET /metrics   Prometheus text format
    GET /healthz   JSON: 200 while the scheduler runs, 503 otherwise
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_DURATION_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 900, 1800)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.pages = Counter("crawler_pages_fetched_total", "Pages downloaded (list and article pages).", ["source"], registry=r)
        self.not_modified = Counter("crawler_not_modified_total", "Conditional requests answered 304.", ["source"], registry=r)
        self.items = Counter("crawler_items_total", "Fetched articles by decision.", ["source", "decision"], registry=r)
        self.errors = Counter("crawler_fetch_errors_total", "Fetch and extraction errors by kind.", ["source", "kind"], registry=r)
        self.crawls = Counter("crawler_crawls_total", "Finished crawls by status.", ["source", "status"], registry=r)
        self.duration = Histogram(
            "crawler_crawl_duration_seconds", "Wall time of one crawl.", ["source"], buckets=_DURATION_BUCKETS, registry=r
        )
        self.failure_streak = Gauge("crawler_source_failure_streak", "Failed crawls in a row.", ["source"], registry=r)
        self.outbox = Gauge("crawler_outbox_alerts", "Alerts in the outbox by state.", ["status"], registry=r)
        self.alerts_sent = Counter("crawler_alerts_total", "Delivery attempts by outcome.", ["outcome"], registry=r)
        self.config_errors = Gauge("crawler_config_errors", "Problems found in source files at the last reload.", registry=r)
        self.started = time.time()

    def observe_run(self, run: dict[str, Any], errors: list[dict[str, Any]]) -> None:
        source = run["source"]
        self.pages.labels(source).inc(run.get("pages_fetched") or 0)
        self.not_modified.labels(source).inc(run.get("not_modified") or 0)
        for decision in ("new", "changed", "duplicate", "unchanged"):
            self.items.labels(source, decision).inc(run.get(f"articles_{decision}") or 0)
        for error in errors:
            self.errors.labels(source, error["kind"]).inc()
        self.crawls.labels(source, run["status"]).inc()
        if run.get("started_at") and run.get("finished_at"):
            took = datetime.fromisoformat(run["finished_at"]) - datetime.fromisoformat(run["started_at"])
            self.duration.labels(source).observe(max(0.0, took.total_seconds()))


class MetricsServer:
    """A small HTTP server in a daemon thread; ``health`` returns (ok, details)."""

    def __init__(self, metrics: Metrics, health: Callable[[], tuple[bool, dict[str, Any]]], host: str, port: int):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, CONTENT_TYPE_LATEST, generate_latest(outer.metrics.registry))
                elif path == "/healthz":
                    ok, details = outer.health()
                    body = json.dumps({"status": "ok" if ok else "unhealthy", **details}, ensure_ascii=False).encode()
                    self._send(200 if ok else 503, "application/json; charset=utf-8", body)
                else:
                    self._send(404, "text/plain; charset=utf-8", b"not found: try /metrics or /healthz\n")

            def _send(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.metrics, self.health = metrics, health
        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="metrics", daemon=True)

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> MetricsServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
