"""Preloaded by the extraction pool's fork server only: it dies with its crawl (crawler/poolguard.py)."""

from crawler.poolguard import die_with_parent

die_with_parent()
