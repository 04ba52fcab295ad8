"""Adaptive list polling: a source's poll interval follows its observed publishing rhythm.

From the last four weeks of a source's publications (decayed, half-life 7 days) we estimate its
rate in each of 48 slots: hour of day (Asia/Shanghai) on workdays and on weekends. Its *quiet*
hours are the sparsest slots, each under a quarter of its mean rate, that together carry at most
3% of its articles; the others are its *busy* hours.

* Quiet hours are polled at ``every × 4``: few articles fall there (at most 3%), so a longer
  wait costs the latency of almost nobody.
* Busy hours are polled a little closer than ``every`` — just enough that the expected 95th
  percentile of the detection delay stays that of fixed polling (a source that publishes around
  the clock has no quiet hours and keeps ``every``).
* The next poll is where the poll density integrated from now reaches one, so a poll in a quiet
  hour does not sleep through the start of a busy one (the 8:30 start of a working morning).
* A source that publishes more than one article per base interval is polled closer
  (÷ √articles-per-interval); one silent where its rhythm expected ten articles or more sparser (×2): a
  weekend's silence is not one.
* With fewer than ``MIN_HISTORY`` publications in four weeks the base interval stays.

Always within ``every/4 … every×4``. A pure function of the publication times and the clock;
the daemon calls it after each crawl of a ``schedule.every`` source (crawler/daemon.py) and
``bench.trace`` measures it on simulated time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from crawler.dates import SHANGHAI

HISTORY = timedelta(days=28)
HALF_LIFE = timedelta(days=7)
MIN_HISTORY = 10  # publications in HISTORY before the rhythm is trusted
PRIOR_HOURS = 2.0  # smoothing: each slot starts as if it had this many hours at the mean rate
BOUND = 4.0  # every/4 … every×4
COVER = 0.97  # the busy hours carry at least this share of the articles
QUIET_RATE = 0.25  # and a quiet hour has less than this fraction of the mean rate
MARGIN = 0.95  # a source with quiet hours is polled a little closer in its busy ones: the quiet share is an estimate
SILENT = 10.0  # a source with no publication where this many were expected has gone quiet
QUANTILE = 0.95  # busy hours are polled so that this quantile of the delay matches fixed polling's


def _slot(moment: datetime) -> int:
    local = moment.astimezone(SHANGHAI)
    return (24 if local.weekday() >= 5 else 0) + local.hour


def _weight(age: timedelta) -> float:
    return 0.5 ** (age / HALF_LIFE)


def busy_factor(quiet_share: float) -> float:
    """The busy-hour interval as a fraction of ``every`` that keeps the delay's QUANTILE.

    Under fixed polling the delay is uniform on [0, every], so P(delay > q·every) = 1 − q. Here
    a share ``s`` of articles waits uniform on [0, BOUND·every] and the rest uniform on
    [0, f·every]; solving (1−s)(1 − q/f) + s(1 − q/BOUND) = 1 − q for f, then times MARGIN
    when there are quiet hours (none: exactly ``every``, never more requests than fixed)."""
    q, s = QUANTILE, min(quiet_share, 1 - COVER)
    rest = (1 - q - s * (1 - q / BOUND)) / (1 - s)
    return (MARGIN if s > 0 else 1.0) * q / (1 - rest)


@dataclass(frozen=True)
class Rhythm:
    rates: tuple[float, ...]  # articles per hour in each of the 48 slots (smoothed)
    observed: tuple[float, ...]  # the same, as observed (no smoothing)
    busy: frozenset[int]  # the slots that carry COVER of the articles
    quiet_share: float  # the share of articles expected outside them
    typical: float  # the rate in the slot where an article is typically published
    mean: float  # the mean rate over the whole history
    count: int  # publications in the history
    last: datetime | None  # the latest publication

    @classmethod
    def learn(cls, times: list[datetime], now: datetime) -> Rhythm:
        """The rhythm of publications at ``times`` (aware datetimes), seen at ``now``."""
        start = now - HISTORY
        recent = [t for t in times if start <= t <= now]
        weights = [0.0] * 48
        for moment in recent:
            weights[_slot(moment)] += _weight(now - moment)
        exposure = [0.0] * 48  # decayed hours of each slot in the history
        hour = now.replace(minute=0, second=0, microsecond=0)
        while hour > start:
            exposure[_slot(hour)] += _weight(now - hour)
            hour -= timedelta(hours=1)
        mean = sum(weights) / max(sum(exposure), 1e-9)
        rates = tuple((w + PRIOR_HOURS * mean) / (e + PRIOR_HOURS) for w, e in zip(weights, exposure))
        total = sum(weights)
        typical = sum(r * w for r, w in zip(rates, weights)) / total if total else mean
        # quiet hours from what was observed (not the smoothed rates): the sparsest slots, while
        # they hold at most 1 - COVER of the articles and each is well below the mean rate
        observed = [w / e if e else 0.0 for w, e in zip(weights, exposure)]
        quiet, share = set(), 0.0
        for slot in sorted(range(48), key=lambda i: observed[i]):
            if observed[slot] >= QUIET_RATE * mean or share + weights[slot] > (1 - COVER) * total:
                break
            quiet.add(slot)
            share += weights[slot]
        busy = set(range(48)) - quiet
        quiet_share = share / total if total else 0.0
        return cls(rates, tuple(observed), frozenset(busy), quiet_share, typical, mean, len(recent), max(recent) if recent else None)

    def expected(self, start: datetime, end: datetime) -> float:
        """How many articles the rhythm expects between ``start`` and ``end`` (hour by hour)."""
        total, moment = 0.0, start
        while moment < end:
            step = min(end - moment, timedelta(hours=1) - timedelta(minutes=moment.minute, seconds=moment.second))
            total += self.observed[_slot(moment)] * (step / timedelta(hours=1))
            moment += step
            if total > 10 * SILENT:
                break
        return total

    def interval(self, every: timedelta, now: datetime) -> tuple[timedelta, str]:
        """The next poll interval and why."""
        if self.count < MIN_HISTORY:
            return every, f"base interval: thin history ({self.count} publications in 4 weeks)"
        lowest, highest = every / BOUND, every * BOUND
        near = busy_factor(self.quiet_share)
        why = []
        per_interval = self.typical * every / timedelta(hours=1)
        if per_interval > 1:
            near /= math.sqrt(per_interval)
            why.append(f"{per_interval:.1f} articles per base interval")
        missed = self.expected(self.last, now) if self.last is not None else 0.0
        if missed > SILENT:
            near *= 2
            silent = now - self.last
            why.append(f"quiet for {silent.days}d {silent.seconds // 3600}h ({missed:.0f} articles expected)")
        near = min(BOUND, max(1 / BOUND, near))
        # walk forward until the poll density (1/interval of each slot) integrates to one poll
        step = min(timedelta(minutes=5), lowest)
        spent, waited = 0.0, timedelta(0)
        while waited < highest:
            length = (near if _slot(now + waited) in self.busy else BOUND) * every
            cost = step / length
            if spent + cost >= 1:
                waited += step * ((1 - spent) / cost)
                break
            spent, waited = spent + cost, waited + step
        interval = min(highest, max(lowest, waited))
        if _slot(now) in self.busy:
            why.insert(0, f"busy hour ({self.rates[_slot(now)]:.2f} articles/h)")
        else:
            why.insert(0, f"quiet hour ({self.rates[_slot(now)]:.2f} articles/h)")
            if interval < highest * 0.95:
                why.append(f"busy again from {(now + interval).astimezone(SHANGHAI):%H:%M}")
        if interval in (lowest, highest) and interval != BOUND * every:
            why.append("bounded")
        return interval, "; ".join(why)


def publication_times(rows: list[tuple[str, str | None]]) -> list[datetime]:
    """The moments a source published, from its stored articles' ``(first_seen, published_at)``.

    The publication time where the page gives one with a time of day and it is at most two days
    before we saw it; else when we first saw the article, if that was within a day of its date
    (or it has none). A backlog found on a first crawl or after a long outage (old dates) and
    the first crawl's undated pages (all seen within ten minutes of the earliest) say nothing of
    the rhythm and are left out."""
    seen = [(datetime.fromisoformat(first), datetime.fromisoformat(published) if published else None)
            for first, published in rows if first]
    if not seen:
        return []
    earliest = min(first for first, _ in seen)
    out = []
    for first, published in seen:
        if published is not None and published.tzinfo is None:
            published = published.replace(tzinfo=SHANGHAI)
        if published is not None and published.astimezone(SHANGHAI).time() != datetime.min.time():
            if timedelta(0) <= first - published <= timedelta(days=2):
                out.append(published)
        elif published is not None:
            if first - published <= timedelta(days=1):
                out.append(first)
        elif first - earliest > timedelta(minutes=10):
            out.append(first)
    return sorted(out)
