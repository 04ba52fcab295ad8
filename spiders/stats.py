"""Scrapy's stats collector without its per-attribute shim.

Scrapy 2.19's ``StatsCollector.__getattribute__`` wraps its methods to warn about the deprecated
``spider`` argument, and runs on every attribute read, ``self._stats`` inside each method
included (a failed look-up of ``_cached__stats`` each time): some fifteen ``inc_value`` calls a
request made it 1.5% of a crawl's CPU (py-spy on bench.e2e). Nothing here passes ``spider``.
"""

from __future__ import annotations

from scrapy.statscollectors import MemoryStatsCollector


class Stats(MemoryStatsCollector):
    __getattribute__ = object.__getattribute__
