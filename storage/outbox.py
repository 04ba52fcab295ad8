"""The alert outbox: rows written with the article, sent by the delivery job.

Statuses: ``pending`` → ``sent`` or, after too many attempts or a permanent
refusal, ``dead`` (``retry`` puts dead rows back). Rows are grouped into a
*batch* before the first attempt (one row, or all rows of a digest window), and
a batch is always retried as it is, so a receiver sees the same message id.
"""

from __future__ import annotations

from typing import Any

from storage.clock import utcnow


class OutboxQueries:
    """Mixed into :class:`storage.Store`; relies on its ``db`` and ``write``."""

    def enqueue(self, rows: list[dict[str, Any]]) -> int:
        """Queue outbox rows (inside a caller's transaction: with the article they alert about)."""
        if not rows:
            return 0
        with self.write() as db:
            return self._enqueue(db, rows)

    @staticmethod
    def _enqueue(db, rows: list[dict[str, Any]]) -> int:
        """Insert outbox rows inside the caller's transaction; an existing key is never queued twice."""
        now = utcnow()
        added = 0
        for row in rows:
            cur = db.execute(
                "INSERT OR IGNORE INTO outbox (key, subscription, channel, article_id, version, event, digest, status, "
                "attempts, not_before, next_attempt_at, created_at, payload) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?)",
                [row["key"], row["subscription"], row["channel"], row.get("article_id"), row.get("version"), row["event"],
                 int(row.get("digest", False)), row["not_before"], row["not_before"], now, row.get("payload")],
            )
            added += cur.rowcount
        return added

    def due_batches(self, now: str | None = None) -> list[list[dict[str, Any]]]:
        """Pending batches whose time has come, each a list of rows with their article's fields."""
        now = now or utcnow()
        with self.write() as db:
            db.execute(  # an immediate alert is a batch of its own
                "UPDATE outbox SET batch_id = id WHERE status = 'pending' AND batch_id IS NULL AND digest = 0 "
                "AND not_before <= ?",
                [now],
            )
            groups = db.execute(  # a digest window is one batch
                "SELECT MIN(id), subscription, channel, not_before FROM outbox "
                "WHERE status = 'pending' AND batch_id IS NULL AND digest = 1 AND not_before <= ? "
                "GROUP BY subscription, channel, not_before",
                [now],
            ).fetchall()
            for batch_id, subscription, channel, not_before in groups:
                db.execute(
                    "UPDATE outbox SET batch_id = ? WHERE status = 'pending' AND batch_id IS NULL AND digest = 1 "
                    "AND subscription = ? AND channel = ? AND not_before = ?",
                    [batch_id, subscription, channel, not_before],
                )
        rows = list(
            self.db.query(
                "SELECT o.*, a.title, a.url, a.body, a.published_at, a.author, a.source_name, a.source, a.notice, a.written_at, a.attachments, "
                "s.title AS source_title, (SELECT v.diff FROM article_versions v WHERE v.article_id = a.id "
                "AND v.version = o.version - 1) AS diff FROM outbox o LEFT JOIN articles a ON a.id = o.article_id "
                "LEFT JOIN sources s ON s.name = a.source "
                "WHERE o.status = 'pending' AND o.batch_id IS NOT NULL AND o.next_attempt_at <= ? ORDER BY o.batch_id, o.id",
                [now],
            )
        )
        batches: dict[int, list[dict[str, Any]]] = {}
        for row in rows:
            batches.setdefault(row["batch_id"], []).append(row)
        return list(batches.values())

    def record_attempt(
        self, batch_id: int, *, ok: bool, status: int | None = None, error: str | None = None,
        retry_at: str | None = None, dead: bool = False,
    ) -> None:
        now = utcnow()
        with self.write() as db:
            db.execute(
                "INSERT INTO outbox_attempts (batch_id, at, ok, status, error) VALUES (?, ?, ?, ?, ?)",
                [batch_id, now, int(ok), status, (error or "")[:1000] or None],
            )
            if ok:
                db.execute(
                    "UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?, last_error = NULL "
                    "WHERE batch_id = ? AND status = 'pending'",
                    [now, batch_id],
                )
            else:
                db.execute(
                    "UPDATE outbox SET status = ?, attempts = attempts + 1, last_error = ?, next_attempt_at = ? "
                    "WHERE batch_id = ? AND status = 'pending'",
                    ["dead" if dead else "pending", (error or "")[:1000], retry_at or now, batch_id],
                )

    def outbox(self, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        where, params = ("WHERE status = ?", [status]) if status else ("", [])
        return list(self.db.query(f"SELECT * FROM outbox {where} ORDER BY id DESC LIMIT ?", [*params, limit]))

    def attempts(self, batch_id: int) -> list[dict[str, Any]]:
        return list(self.db.query("SELECT * FROM outbox_attempts WHERE batch_id = ? ORDER BY id", [batch_id]))

    def outbox_counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall())

    def requeue(self, outbox_id: int | None = None) -> int:
        """Put a dead alert (or, with None, every dead alert) back in the queue for a new series of attempts."""
        now = utcnow()
        clause, params = ("id = ? AND status = 'dead'", [outbox_id]) if outbox_id else ("status = 'dead'", [])
        with self.write() as db:
            return db.execute(
                f"UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ? WHERE {clause}", [now, *params]
            ).rowcount

    # -- source health (operators' alerts) --------------------------------------------------------
    def health_transitions(
        self, source: str, conditions: dict[str, str | None], alert_rows
    ) -> list[tuple[str, bool, str]]:
        """Record which conditions hold now (condition → detail, None when it does not hold).

        For each condition that starts or ends, ``alert_rows(condition, started, detail, since)``
        gives outbox rows, written in the same transaction: one alert when a problem starts,
        one when it recovers, none while it lasts.
        """
        now = utcnow()
        changes = []
        with self.write() as db:
            for condition, detail in conditions.items():
                row = db.execute(
                    "SELECT active, since FROM source_health WHERE source = ? AND condition = ?", [source, condition]
                ).fetchone()
                active_now = detail is not None
                was_active = bool(row and row[0])
                if active_now == was_active:
                    continue
                since = now if active_now else (row[1] if row else now)
                db.execute(
                    "INSERT INTO source_health (source, condition, active, since, detail, changed_at) VALUES (?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT(source, condition) DO UPDATE SET active = excluded.active, since = excluded.since, "
                    "detail = excluded.detail, changed_at = excluded.changed_at",
                    [source, condition, int(active_now), since, detail, now],
                )
                self._enqueue(db, alert_rows(condition, active_now, detail or "", since))
                changes.append((condition, active_now, detail or ""))
        return changes

    def source_health(self, source: str | None = None) -> list[dict[str, Any]]:
        where, params = ("WHERE source = ?", [source]) if source else ("", [])
        return list(self.db.query(f"SELECT * FROM source_health {where} ORDER BY source, condition", params))
