"""The daemon's config watcher: source files and alerts.yaml, re-read when they change.

A broken file is reported (``FILE: field: message``) and the last good version of it
keeps running. Every good version is copied into a snapshot folder beside the
database; the crawls the daemon starts read the snapshot, so an operator's half-saved
edit never reaches a crawl.
"""

from __future__ import annotations

import logging
from pathlib import Path

from crawler.alerts.config import AlertsConfig, alerts_file, load_alerts
from crawler.alerts.dispatch import Dispatcher
from crawler.errors import ConfigError
from crawler.sources import LoadedSource, Source, load_source_file, source_files

log = logging.getLogger("crawler.daemon")


class ConfigWatcher:
    def __init__(self, config_dir: Path, snapshot_dir: Path):
        self.config_dir = Path(config_dir)
        self.snapshot_dir = Path(snapshot_dir)  # <db dir>/.snapshots/sources; alerts.yaml beside it
        self._mtimes: dict[Path, float] = {}
        self._good: dict[Path, LoadedSource] = {}  # last good version of each file
        self._broken: dict[Path, int] = {}  # files whose last read failed -> number of problems
        self._alerts_mtime: float | None = None
        self.dispatcher: Dispatcher | None = None

    @property
    def config_errors(self) -> int:
        return sum(self._broken.values())

    @property
    def snapshot_config(self) -> Path:
        """The config folder the daemon's crawls read (sources/ and alerts.yaml as last seen good)."""
        return self.snapshot_dir.parent

    def enabled(self) -> dict[str, Source]:
        return {item.source.name: item.source for item in self._good.values() if item.source.enabled}

    def source(self, name: str) -> Source | None:
        """The last good version of a source, by name."""
        return next((g.source for g in self._good.values() if g.source.name == name), None)

    def alerts_config(self) -> AlertsConfig:
        return self.dispatcher.config if self.dispatcher else AlertsConfig()

    # -- reading -------------------------------------------------------------------------------
    def reload_alerts(self) -> None:
        """Re-read alerts.yaml when it changed; a broken file keeps the last good version."""
        path = alerts_file(self.config_dir)
        mtime = path.stat().st_mtime if path.exists() else None
        if mtime == self._alerts_mtime and self.dispatcher is not None:
            return
        self._alerts_mtime = mtime
        snapshot = self.snapshot_config / "alerts.yaml"
        try:
            config = load_alerts(self.config_dir) if mtime is not None else AlertsConfig()
            dispatcher = Dispatcher(config, self.config_dir)
        except (ConfigError, ValueError) as exc:
            for line in str(exc).splitlines():
                log.error("config error: %s", line)
            if self.dispatcher is not None:
                log.error("%s: keeping the last good alerts configuration", path)
            return
        if mtime is not None:
            snapshot.write_bytes(path.read_bytes())
        else:
            snapshot.write_text("{}\n", encoding="utf-8")
        self.dispatcher = dispatcher
        log.info("alerts: %d subscription(s), %d channel(s)", len(config.subscriptions), len(config.channels))

    def reload_sources(self, startup: bool = False) -> bool:
        """Apply added, changed and removed source files; True when anything changed."""
        mtimes = {}
        for path in source_files(self.config_dir):
            try:
                mtimes[path] = path.stat().st_mtime
            except FileNotFoundError:
                continue
        if mtimes == self._mtimes and not startup:
            return False
        for path in mtimes:
            if self._mtimes.get(path) == mtimes[path] and not startup:
                continue
            try:
                loaded = load_source_file(path)
            except ConfigError as exc:
                self._broken[path] = len(exc.problems)
                for problem in exc.problems:
                    log.error("config error: %s", problem)
                if path in self._good:
                    log.error("%s: keeping the last good version of source %s", path, self._good[path].source.name)
                continue
            self._broken.pop(path, None)
            self._good[path] = loaded
            (self.snapshot_dir / f"{loaded.source.name}.yaml").write_bytes(path.read_bytes())
        for gone in set(self._broken) - set(mtimes):
            del self._broken[gone]
        for gone in set(self._good) - set(mtimes):
            name = self._good.pop(gone).source.name
            log.info("%s removed: source %s unscheduled", gone, name)
            (self.snapshot_dir / f"{name}.yaml").unlink(missing_ok=True)
        self._mtimes = mtimes
        return True
