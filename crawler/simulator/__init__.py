"""A loopback HTTP simulator of the three target portals, for tests, bench and the demo."""

from crawler.simulator.server import ENV_NAMES, PORTALS, Fault, LoggedRequest, Simulator

__all__ = ["ENV_NAMES", "PORTALS", "Fault", "LoggedRequest", "Simulator"]
