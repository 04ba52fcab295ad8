"""When sources are polled (crawler/schedule.py): triggers, first runs after a start, back-off. Pure, with a fixed clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from crawler import schedule
from crawler.sources import Source

NOW = datetime(2026, 12, 3, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shanghai


def _source(**schedule_block) -> Source:
    return Source.model_validate({"name": "s", "title": "S", "start_urls": ["http://xyzz.zaozhuang.gov.cn/col/col2345/index.html"],
                                  "schedule": schedule_block})


def test_a_trigger_per_kind_of_schedule() -> None:
    every = schedule.trigger(_source(every="20m"))
    assert isinstance(every, IntervalTrigger) and every.interval == timedelta(minutes=20)
    cron = schedule.trigger(_source(cron="*/15 8-18 * * mon-fri"))
    assert isinstance(cron, CronTrigger)
    first = cron.get_next_fire_time(None, NOW)  # 10:00 Shanghai, a Thursday: next quarter hour
    assert first.astimezone(schedule.SHANGHAI).hour == 10 and first.minute in (0, 15)
    assert schedule.describe(_source(cron="0 9 * * *")) == "cron '0 9 * * *'"


def test_a_schedule_change_changes_the_fingerprint_and_nothing_else_does() -> None:
    assert schedule.fingerprint(_source(every="20m")) == schedule.fingerprint(_source(every="20m"))
    assert schedule.fingerprint(_source(every="20m")) != schedule.fingerprint(_source(every="30m"))


def test_the_first_run_after_a_start_honours_the_last_run_and_the_learned_interval() -> None:
    source = _source(every="1h")
    last = (NOW - timedelta(minutes=20)).isoformat()
    assert schedule.first_run(source, {"last_run_at": last}, NOW, spread=30, index=0) == NOW + timedelta(minutes=40)
    # an adaptive source that learned 30 minutes is due in 10, not in 40
    learned = {"last_run_at": last, "interval_seconds": 1800}
    assert schedule.first_run(source, learned, NOW, spread=30, index=0) == NOW + timedelta(minutes=10)
    fixed = _source(every="1h", adaptive=False)
    assert schedule.first_run(fixed, learned, NOW, spread=30, index=0) == NOW + timedelta(minutes=40)


def test_overdue_sources_are_spread_over_the_start_window() -> None:
    source = _source(every="1h")
    overdue = {"last_run_at": (NOW - timedelta(hours=3)).isoformat()}
    assert schedule.first_run(source, overdue, NOW, spread=30, index=0) == NOW  # the first one at once
    later = [schedule.first_run(source, None, NOW, spread=30, index=i) for i in range(1, 40)]
    assert all(NOW <= at <= NOW + timedelta(seconds=30) for at in later)
    assert len(set(later)) > 1
    # never spread past the source's own interval
    quick = _source(every="10s")
    assert all(schedule.first_run(quick, None, NOW, spread=30, index=i) <= NOW + timedelta(seconds=10) for i in range(1, 20))


def test_back_off_doubles_from_the_second_failure_up_to_six_hours() -> None:
    def wait(failures: int) -> timedelta | None:
        until = schedule.backoff_until(failures, 600, NOW, None)
        return None if until is None else datetime.fromisoformat(until) - NOW

    assert wait(0) is None and wait(1) is None
    assert wait(2) == timedelta(minutes=20)
    assert wait(3) == timedelta(minutes=40)
    assert wait(12) == timedelta(hours=6)


def test_a_later_pause_asked_by_the_portal_wins_and_a_past_one_is_dropped() -> None:
    asked = (NOW + timedelta(hours=2)).isoformat(timespec="seconds")
    assert schedule.backoff_until(0, 600, NOW, asked) == asked
    assert schedule.backoff_until(2, 600, NOW, asked) == asked  # 20 minutes of our own are less
    past = (NOW - timedelta(minutes=1)).isoformat(timespec="seconds")
    assert schedule.backoff_until(0, 600, NOW, past) is None
    ours = schedule.backoff_until(12, 600, NOW, asked)
    assert ours is not None and ours > asked  # six hours of ours are more
