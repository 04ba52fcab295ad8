"""Scrapy spiders driven by source configs (see crawler.sources)."""
