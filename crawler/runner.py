"""Run one crawl pass over some sources in this process, then return their run records."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler.sources import LoadedSource
from spiders.listing import ListingSpider
from storage import Store

QUIET_LOGGERS = ("scrapy", "twisted", "trafilatura", "htmldate", "justext", "py.warnings")


def scrapy_settings(db_path: Path, config_dir: Path, *, verbose: bool = False) -> Settings:
    settings = Settings()
    settings.setmodule("spiders.settings", priority="project")
    settings.set("CRAWLER_DB", str(db_path), priority="cmdline")
    settings.set("CRAWLER_CONFIG", str(config_dir), priority="cmdline")
    settings.set("LOG_LEVEL", "DEBUG" if verbose else "INFO", priority="cmdline")
    settings.set("LOG_FORMAT", "%(asctime)s %(levelname)s %(name)s: %(message)s", priority="cmdline")
    return settings


def crawl_sources(sources: list[LoadedSource], db_path: Path, config_dir: Path, *, verbose: bool = False) -> list[dict[str, Any]]:
    """Crawl each source once (all at the same time, each with its own politeness
    settings) and return the crawl_runs rows of this pass."""
    Store(db_path).close()  # create and migrate before the spiders open it
    process = CrawlerProcess(scrapy_settings(db_path, config_dir, verbose=verbose))
    if not verbose:
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
    for loaded in sources:
        process.crawl(ListingSpider, source=loaded)
    process.start()
    with Store(db_path, readonly=True) as store:
        return [store.runs(source=loaded.source.name, limit=1)[0] for loaded in sources if store.runs(source=loaded.source.name, limit=1)]
