"""Scheduled web-monitoring and ingestion crawler for news and government portals."""

__version__ = "0.1.0"
