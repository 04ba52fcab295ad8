"""Crawl runs and fetch errors."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class RunQueries:
    """Mixed into :class:`storage.Store`; relies on its ``db`` and ``write``."""

    def start_run(self, source: str) -> int:
        with self.write() as db:
            cur = db.execute(
                "INSERT INTO crawl_runs (source, started_at, status, pages_fetched, not_modified, articles_new, "
                "articles_changed, articles_unchanged, errors) VALUES (?, ?, 'running', 0, 0, 0, 0, 0, 0)",
                [source, _now()],
            )
            return int(cur.lastrowid)

    def finish_run(self, run_id: int, *, status: str, finish_reason: str, counts: dict[str, int]) -> None:
        allowed = {"pages_fetched", "not_modified", "articles_new", "articles_changed", "articles_unchanged", "errors"}
        unknown = set(counts) - allowed
        if unknown:
            raise ValueError(f"unknown run counters: {sorted(unknown)}")
        columns = ", ".join(f"{name} = ?" for name in counts)
        with self.write() as db:
            db.execute(
                f"UPDATE crawl_runs SET finished_at = ?, status = ?, finish_reason = ?{', ' if columns else ''}{columns} "
                "WHERE id = ?",
                [_now(), status, finish_reason, *counts.values(), run_id],
            )
            db.execute(
                "UPDATE sources SET last_crawl_at = ? WHERE name = (SELECT source FROM crawl_runs WHERE id = ?)",
                [_now(), run_id],
            )

    def record_error(
        self, *, run_id: int | None, source: str, url: str, kind: str, message: str, status: int | None = None
    ) -> None:
        with self.write() as db:
            db.execute(
                "INSERT INTO fetch_errors (run_id, source, url, kind, status, message, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [run_id, source, url, kind, status, message[:2000], _now()],
            )

    def runs(self, source: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        where, params = ("WHERE source = ?", [source]) if source else ("", [])
        return list(self.db.query(f"SELECT * FROM crawl_runs {where} ORDER BY id DESC LIMIT ?", [*params, limit]))

    def errors(self, run_id: int | None = None, source: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        clauses, params = [], []
        if run_id is not None:
            clauses.append("run_id = ?")
            params.append(run_id)
        if source:
            clauses.append("source = ?")
            params.append(source)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        return list(self.db.query(f"SELECT * FROM fetch_errors {where} ORDER BY id DESC LIMIT ?", [*params, limit]))
