"""Adaptive list polling: a source's poll interval follows its observed publishing rhythm.

From the last four weeks of a source's publications (decayed, half-life 7 days) we estimate its
rate in each of 48 slots: hour of day (Asia/Shanghai) on workdays and on weekends. The interval
for the next poll is the base interval (``schedule.every``) scaled by how the current slot
compares with the rate at which the source's articles usually appear:

    interval = every × 0.75 × √(typical rate / rate now)       bounded to every/4 … every×4

(the rate now: this hour's or the next's, whichever is higher) so the hours it usually
publishes are polled closer than the base interval, nights and
weekends it never publishes sparser. A source that publishes more than one article per base
interval is polled closer still (÷ √articles-per-interval); one silent for much longer than
its usual gap is polled sparser (×2). With fewer than ``MIN_HISTORY`` publications in four
weeks the base interval stays. A pure function of the publication times and the clock,
measured on simulated time by ``bench.trace``. Not yet wired into the daemon (which polls
every ``schedule.every``) nor shown by ``crawler status``: that is the next step of #19.
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
ACTIVE = 0.75  # the hours a source usually publishes are polled at every × 0.75 (bench.trace: p95 latency ~ fixed polling's)


def _slot(moment: datetime) -> int:
    local = moment.astimezone(SHANGHAI)
    return (24 if local.weekday() >= 5 else 0) + local.hour


def _weight(age: timedelta) -> float:
    return 0.5 ** (age / HALF_LIFE)


@dataclass(frozen=True)
class Rhythm:
    rates: tuple[float, ...]  # articles per hour in each of the 48 slots (smoothed)
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
        return cls(rates, typical, mean, len(recent), max(recent) if recent else None)

    def interval(self, every: timedelta, now: datetime) -> tuple[timedelta, str]:
        """The next poll interval and why."""
        if self.count < MIN_HISTORY:
            return every, f"base interval: thin history ({self.count} publications in 4 weeks)"
        # this hour or the next, whichever is busier: a poll at 8:00 must not sleep through the 8:30 start
        rate = max(self.rates[_slot(now)], self.rates[_slot(now + timedelta(hours=1))])
        factor = ACTIVE * math.sqrt(self.typical / max(rate, 1e-9))
        why = [f"{rate:.2f}/h at this hour against {self.typical:.2f}/h when it usually publishes"]
        per_interval = self.typical * every / timedelta(hours=1)
        if per_interval > 1:
            factor /= math.sqrt(per_interval)
            why.append(f"{per_interval:.1f} articles per base interval")
        if self.last is not None and self.mean > 0:
            gap = timedelta(hours=1 / self.mean)
            silent = now - self.last
            if silent > max(4 * gap, timedelta(days=1)):
                factor *= 2
                why.append(f"quiet for {silent.days}d {silent.seconds // 3600}h (usual gap {gap.total_seconds() / 3600:.1f}h)")
        bounded = min(BOUND, max(1 / BOUND, factor))
        if bounded != factor:
            why.append("bounded")
        return every * bounded, "; ".join(why)
