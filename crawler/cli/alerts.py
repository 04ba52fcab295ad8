"""`crawler alerts …`: subscriptions, channels and the outbox."""

from __future__ import annotations

import sys
import time

import click

from crawler.cli import Env, _alerts, _store, cli

# -- alerts -----------------------------------------------------------------------------------------------


@cli.group("alerts")
def alerts_group() -> None:
    """Subscriptions, channels and the alert outbox (CONFIG/alerts.yaml, docs/alerts.md)."""




@alerts_group.command("check")
@click.pass_obj
def alerts_check(env: Env) -> None:
    """Validate CONFIG/alerts.yaml (FILE: field: message; exit 2 on problems)."""
    from crawler.alerts.config import alerts_file, literal_secrets
    from crawler.alerts.dispatch import Dispatcher

    config = _alerts(env)
    for warning in literal_secrets(env.config):
        click.echo(f"warning: {alerts_file(env.config)}: {warning}", err=True)
    try:
        Dispatcher(config, env.config)
    except ValueError as exc:
        raise click.ClickException(f"{alerts_file(env.config)}: {exc}") from None
    click.echo(f"{alerts_file(env.config)}: ok ({len(config.subscriptions)} subscriptions, {len(config.channels)} channels)")


@alerts_group.command("list")
@click.option("--status", type=click.Choice(["pending", "sent", "dead"]), help="Only alerts in this state.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1), help="How many, newest first.")
@click.pass_obj
def alerts_list(env: Env, status: str | None, limit: int) -> None:
    """List alerts in the outbox with their state, attempts and last error."""
    with _store(env) as store:
        rows = store.outbox(status=status, limit=limit)
        counts = store.outbox_counts()
    for row in rows:
        error = f"  last error: {row['last_error']}" if row["last_error"] else ""
        click.echo(f"#{row['id']:<6} {row['status']:<8} attempts={row['attempts']:<3} {row['key']}  {row['event']}{error}")
    click.echo(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "outbox empty", err=True)


@alerts_group.command("retry")
@click.argument("alert_id", type=int, required=False)
@click.option("--all-failed", is_flag=True, help="Requeue every alert in dead-letter.")
@click.pass_obj
def alerts_retry(env: Env, alert_id: int | None, all_failed: bool) -> None:
    """Put a dead-letter alert (or all of them) back in the queue for a fresh series of attempts."""
    from storage import Store

    if not alert_id and not all_failed:
        raise click.UsageError("give an alert ID or --all-failed")
    with Store(env.db) as store:
        count = store.requeue(None if all_failed else alert_id)
    click.echo(f"{count} alert(s) requeued")


@alerts_group.command("send")
@click.pass_obj
def alerts_send(env: Env) -> None:
    """Deliver the alerts that are due now, once (the daemon does this every few seconds)."""
    from crawler.alerts.dispatch import Dispatcher
    from crawler.runner import configure_logging
    from storage import Store

    configure_logging(env.verbose)
    dispatcher = Dispatcher(_alerts(env), env.config)
    with Store(env.db) as store:
        counts = dispatcher.deliver_due(store)
    click.echo(", ".join(f"{k}: {v}" for k, v in counts.items()))


@alerts_group.command("test")
@click.argument("name")
@click.pass_obj
def alerts_test(env: Env, name: str) -> None:
    """Send a sample alert to channel NAME, or to every channel of subscription NAME."""
    from crawler.alerts.dispatch import Dispatcher, payload
    from crawler.alerts.render import render

    config = _alerts(env)
    dispatcher = Dispatcher(config, env.config)
    subs = {s.name: s for s in config.subscriptions}
    targets = subs[name].channels if name in subs else [name]
    unknown = [t for t in targets if t not in dispatcher.channels]
    if unknown:
        raise click.ClickException(f"no channel or subscription named {name!r} (channels: {', '.join(dispatcher.channels)})")
    sample = [{
        "article_id": 0, "event": "new", "version": 1, "title": "【测试】枣庄高新区召开信用体系建设推进会",
        "url": "http://example.invalid/test.html", "source": "test", "source_title": "测试来源", "source_name": "测试",
        "author": None, "published_at": "2026-01-01T09:00:00+08:00", "body": "这是一条测试提醒，用于检查通道配置。", "diff": None,
    }]
    failed = False
    for target in targets:
        channel = dispatcher.channels[target]
        result = channel.send(f"msg_test_{int(time.time())}", render(dispatcher.env, sample, name), payload(sample, name))
        click.echo(f"{target} ({channel.describe()}): {'ok' if result.ok else result.error}")
        failed |= not result.ok
    if failed:
        sys.exit(1)


