"""Alerts: subscriptions route stored articles to an outbox; a delivery job sends them.

    config (alerts.yaml) → rules.route() inside the storing transaction → outbox rows
    → dispatch.deliver_due() → channels (webhook, email, Apprise) → attempts recorded
"""
