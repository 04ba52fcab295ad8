"""Adaptive polling (crawler/rhythm.py) as a pure function of publication times and an injected clock."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from crawler.dates import SHANGHAI
from crawler.rhythm import Rhythm

EVERY = timedelta(minutes=20)
NOW = datetime(2026, 12, 2, 15, 0, tzinfo=SHANGHAI)  # a Wednesday afternoon


def _office_hours(now: datetime, chance: float = 0.05) -> list[datetime]:
    rng, times, moment = random.Random(7), [], now - timedelta(days=28)
    while moment < now:
        if moment.weekday() < 5 and (9 <= moment.hour < 12 or 14 <= moment.hour < 18) and rng.random() < chance:
            times.append(moment)
        moment += timedelta(minutes=5)
    return times


def test_office_hours_are_polled_at_the_base_and_nights_and_weekends_sparser() -> None:
    rhythm = Rhythm.learn(_office_hours(NOW), NOW)
    afternoon, _ = rhythm.interval(EVERY, NOW)
    night, _ = rhythm.interval(EVERY, NOW.replace(hour=3))
    sunday, _ = rhythm.interval(EVERY, NOW + timedelta(days=4))
    assert EVERY / 4 <= afternoon <= EVERY
    assert EVERY * 3 <= night <= EVERY * 4 and EVERY * 3 <= sunday <= EVERY * 4


def test_a_source_publishing_every_few_minutes_is_polled_closer_and_a_quiet_one_sparser() -> None:
    busy = Rhythm.learn([NOW - timedelta(minutes=4 * i) for i in range(3000)], NOW)
    interval, why = busy.interval(EVERY, NOW)
    assert EVERY / 4 <= interval < EVERY * 0.8 and "per base interval" in why
    quiet = Rhythm.learn([t for t in _office_hours(NOW, 0.1) if t < NOW - timedelta(days=12)], NOW)
    interval, why = quiet.interval(EVERY, NOW)
    assert EVERY * 1.5 < interval <= EVERY * 4 and "quiet for" in why


def test_a_thin_history_keeps_the_base_interval() -> None:
    interval, why = Rhythm.learn(_office_hours(NOW)[:5], NOW).interval(EVERY, NOW)
    assert interval == EVERY and "thin history" in why


def test_a_source_publishing_around_the_clock_keeps_the_base_interval() -> None:
    rhythm = Rhythm.learn([NOW - timedelta(minutes=37 * i) for i in range(1000)], NOW)
    assert rhythm.interval(EVERY, NOW)[0] == EVERY and rhythm.interval(EVERY, NOW.replace(hour=3))[0] == EVERY


def test_a_poll_in_a_quiet_hour_does_not_sleep_through_the_start_of_a_busy_one() -> None:
    rhythm = Rhythm.learn(_office_hours(NOW), NOW)
    before = NOW.replace(hour=8, minute=50) + timedelta(days=1)  # Thursday, ten minutes before the 9:00 start
    interval, why = rhythm.interval(EVERY, before)
    assert timedelta(minutes=10) < interval < EVERY * 1.5 and "busy again from 09:" in why  # not every × 4


def test_the_rhythm_is_learned_from_publication_times_and_not_from_a_backlog() -> None:
    from crawler.rhythm import publication_times

    def iso(moment: datetime) -> str:
        return moment.isoformat()

    first_crawl = NOW - timedelta(days=10)
    rows = [
        (iso(first_crawl), "2025-03-01T00:00:00+08:00"),  # backlog: an old date
        (iso(first_crawl + timedelta(seconds=30)), None),  # first crawl, undated
        (iso(NOW - timedelta(hours=2)), iso(NOW - timedelta(hours=2, minutes=12))),  # a time of day: that time
        (iso(NOW - timedelta(hours=1)), iso((NOW - timedelta(hours=1)).replace(hour=0, minute=0))),  # date only: seen
        (iso(NOW - timedelta(minutes=5)), None),  # undated, after the first crawl: seen
    ]
    assert publication_times(rows) == [NOW - timedelta(hours=2, minutes=12), NOW - timedelta(hours=1), NOW - timedelta(minutes=5)]
