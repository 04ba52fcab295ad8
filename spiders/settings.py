"""Scrapy settings shared by `crawler crawl` and the `scrapy` command.

Polite and safe defaults (see docs/operations.md); per-source values from the
source config override delay, concurrency, user agent, timeout and retries.
"""

import os

from scrapy.settings import default_settings as _defaults

BOT_NAME = "crawler"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"

CRAWLER_DB = os.environ.get("CRAWLER_DB", "data/crawler.db")
CRAWLER_CONFIG = os.environ.get("CRAWLER_CONFIG", "config")

# Processes that extract articles in parallel with the downloads (1: in the crawl process).
CRAWLER_EXTRACT_WORKERS = int(os.environ.get("CRAWLER_EXTRACT_WORKERS", os.cpu_count() or 1))

ROBOTSTXT_OBEY = True
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
DOWNLOAD_MAXSIZE = 16 * 1024 * 1024
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024
REDIRECT_MAX_TIMES = 5
DOWNLOAD_TIMEOUT = 30
RETRY_TIMES = 2
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0
# Only http(s): no file://, data:, s3:// or ftp:// from configs or redirects.
DOWNLOAD_HANDLERS = {"file": None, "data": None, "s3": None, "ftp": None}
# Scrapy's components we never use are left out of the *_BASE lists, not disabled with None in
# DOWNLOADER_MIDDLEWARES / EXTENSIONS: Scrapy imports every key of those to normalise it, and the
# cookies middleware imports tldextract and requests, RemoteControl aiohttp (some 300 modules,
# ~14 MB of every crawl process). Robots.txt is ours (spiders.middlewares).
_UNUSED = (
    "scrapy.downloadermiddlewares.cookies.CookiesMiddleware",  # COOKIES_ENABLED is off
    "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware",  # no source logs in
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware",  # spiders.middlewares.RobotsTxt
    "scrapy.extensions.remote_control.RemoteControl",  # off in Scrapy unless enabled
    "scrapy.extensions.telnet.TelnetConsole",  # TELNETCONSOLE_ENABLED is off
    "scrapy.spidermiddlewares.depth.DepthMiddleware",  # no depth limit, no depth statistics
)
DOWNLOADER_MIDDLEWARES_BASE = {k: v for k, v in _defaults.DOWNLOADER_MIDDLEWARES_BASE.items() if k not in _UNUSED}
EXTENSIONS_BASE = {k: v for k, v in _defaults.EXTENSIONS_BASE.items() if k not in _UNUSED}
SPIDER_MIDDLEWARES_BASE = {k: v for k, v in _defaults.SPIDER_MIDDLEWARES_BASE.items() if k not in _UNUSED}
DOWNLOADER_MIDDLEWARES = {
    "spiders.middlewares.NetworkGuard": 60,  # before robots.txt: no request at all to a refused address
    "spiders.middlewares.RobotsTxt": 100,  # a 5xx robots.txt disallows the host for this crawl
    "spiders.middlewares.RetryAfter": 560,  # sees 429/503 before RetryMiddleware (550) retries them
    "spiders.middlewares.Backpressure": 590,  # article downloads wait while the ingest stage is full
}
# Scrapy reads a callback's source and parses it (ast) to warn of a generator returning a value, and
# a bound method is a new key of its cache every time: once per list page here. Our callbacks return none.
WARN_ON_GENERATOR_RETURN_VALUE = False
STATS_CLASS = "spiders.stats.Stats"
DOWNLOADER_STATS = False  # its byte and status counts: nothing reads them, and it renders every request to count its bytes
ITEM_PIPELINES = {"crawler.pipeline.IngestPipeline": 300}
# Items (and requests) of one response handled at once. Scrapy starts this many asyncio tasks for
# every response (2.19's scraper); an article page yields one item and a list page some dozens of
# requests, so 100 (the default) cost ~5 s of the reactor per 2,000 pages for nothing (bench.e2e).
CONCURRENT_ITEMS = 16
EXTENSIONS = {"crawler.progress.CrawlProgress": 500}  # a progress line per source every 10 s of a long crawl
CRAWLER_PROGRESS_INTERVAL = float(os.environ.get("CRAWLER_PROGRESS_INTERVAL", 10))
LOG_LEVEL = "INFO"
