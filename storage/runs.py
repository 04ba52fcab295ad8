"""Crawl runs and fetch errors."""

from __future__ import annotations

import os
from collections.abc import Collection
from typing import Any

from storage.clock import utcnow


class RunQueries:
    """Mixed into :class:`storage.Store`; relies on its ``db`` and ``write``."""

    def start_run(self, source: str) -> int:
        with self.write() as db:
            cur = db.execute(
                "INSERT INTO crawl_runs (source, started_at, status, pages_fetched, not_modified, articles_new, "
                "articles_changed, articles_unchanged, errors, pid) VALUES (?, ?, 'running', 0, 0, 0, 0, 0, 0, ?)",
                [source, utcnow(), os.getpid()],
            )
            return int(cur.lastrowid)

    def finish_run(self, run_id: int, *, status: str, finish_reason: str, counts: dict[str, int]) -> None:
        allowed = {
            "pages_fetched", "not_modified", "articles_new", "articles_changed", "articles_duplicate",
            "articles_unchanged", "errors",
        }
        unknown = set(counts) - allowed
        if unknown:
            raise ValueError(f"unknown run counters: {sorted(unknown)}")
        columns = ", ".join(f"{name} = ?" for name in counts)
        with self.write() as db:
            db.execute(
                f"UPDATE crawl_runs SET finished_at = ?, status = ?, finish_reason = ?{', ' if columns else ''}{columns} "
                "WHERE id = ?",
                [utcnow(), status, finish_reason, *counts.values(), run_id],
            )
            db.execute(
                "UPDATE sources SET last_crawl_at = ? WHERE name = (SELECT source FROM crawl_runs WHERE id = ?)",
                [utcnow(), run_id],
            )

    def record_error(
        self, *, run_id: int | None, source: str, url: str, kind: str, message: str, status: int | None = None
    ) -> None:
        with self.write() as db:
            db.execute(
                "INSERT INTO fetch_errors (run_id, source, url, kind, status, message, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [run_id, source, url, kind, status, message[:2000], utcnow()],
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

    def mark_interrupted_runs(self, source: str | None = None, reason: str = "interrupted", keep: Collection[int] = ()) -> int:
        """Close runs left 'running' by a process that is gone (killed, crashed, timed out).

        ``keep``: runs still open elsewhere (on Redis workers), whatever process opened them.
        """
        clauses, params = ["status = 'running'"], []
        if source:
            clauses.append("source = ?")
            params.append(source)
        rows = self.db.execute(f"SELECT id, pid FROM crawl_runs WHERE {' AND '.join(clauses)}", params).fetchall()
        dead = [run_id for run_id, pid in rows if not process_alive(pid) and run_id not in keep]
        if dead:
            with self.write() as db:
                db.conn.executemany(
                    "UPDATE crawl_runs SET status = 'interrupted', finish_reason = ?, finished_at = ? WHERE id = ?",
                    [(reason, utcnow(), run_id) for run_id in dead],
                )
        return len(dead)

    # -- schedule state (the daemon's memory across restarts) --------------------------------
    def schedule_state(self, source: str | None = None) -> dict[str, dict[str, Any]]:
        where, params = ("WHERE source = ?", [source]) if source else ("", [])
        return {row["source"]: row for row in self.db.query(f"SELECT * FROM schedule_state {where}", params)}

    def save_schedule_state(self, source: str, **fields: Any) -> None:
        allowed = {"last_run_at", "last_status", "next_run_at", "failures", "backoff_until", "last_error",
                   "interval_seconds", "interval_reason"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"unknown schedule fields: {sorted(unknown)}")
        columns = ["source", *fields]
        updates = ", ".join(f"{name} = excluded.{name}" for name in fields) or "source = source"
        with self.write() as db:
            db.execute(
                f"INSERT INTO schedule_state ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
                f"ON CONFLICT(source) DO UPDATE SET {updates}",
                [source, *fields.values()],
            )

    def prune(self, errors_before: str, runs_before: str) -> tuple[int, int]:
        """Delete fetch errors and finished crawl runs older than the given timestamps."""
        with self.write() as db:
            errors = db.execute(
                "DELETE FROM fetch_errors WHERE at < ? OR run_id IN "
                "(SELECT id FROM crawl_runs WHERE started_at < ? AND status != 'running')",
                [errors_before, runs_before],
            ).rowcount
            runs = db.execute(
                "DELETE FROM crawl_runs WHERE started_at < ? AND status != 'running'", [runs_before]
            ).rowcount
        return errors, runs


def process_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
