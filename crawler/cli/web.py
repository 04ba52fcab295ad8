"""`crawler serve` (the read-only web view) and `crawler feed` (an Atom feed to stdout)."""

from __future__ import annotations

import click

from crawler.cli import Env, _alerts, _store, cli


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (keep it on loopback; put a proxy with auth in front otherwise).")
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.pass_obj
def serve(env: Env, host: str, port: int) -> None:
    """Serve a read-only web view of the database (Datasette) and Atom feeds.

    Browse and facet articles, search them (Chinese words, either script), read
    bodies and diffs, see alert failures and crawl errors. Feeds: /feeds/NAME.atom
    for every source and every subscription of alerts.yaml. The database is opened
    read-only: the daemon keeps writing meanwhile.

    Example: crawler serve --port 8001   # then open http://127.0.0.1:8001/
    """
    from crawler.web import serve as run_server

    _store(env).close()  # a clear error when there is no database yet; migrates an older one
    _alerts(env)  # a broken alerts.yaml is reported now, not on the first feed request
    click.echo(f"serving {env.db} read-only on http://{host}:{port}/ (feeds: /feeds/NAME.atom); Ctrl-C to stop", err=True)
    run_server(env.db, env.config, host, port)


@cli.command()
@click.argument("name")
@click.option("--url", "self_url", default="http://127.0.0.1:8001/feeds/{name}.atom", show_default=True, help="The feed's own address, written into it.")
@click.pass_obj
def feed(env: Env, name: str, self_url: str) -> None:
    """Print the Atom feed of source or subscription NAME (newest 50 articles).

    Example: crawler feed iqilu-zaozhuang > iqilu.atom
    """
    from crawler.feeds import UnknownFeed, build_feed

    with _store(env) as store:
        try:
            body = build_feed(store, name, _alerts(env), self_url.format(name=name))
        except UnknownFeed as exc:
            raise click.ClickException(f"{exc} (sources: see `crawler sources list`; subscriptions: alerts.yaml)") from None
    click.get_binary_stream("stdout").write(body)
