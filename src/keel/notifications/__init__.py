"""Notifications: subscriptions to events of the governance log, delivered to webhooks
(Standard Webhooks, signed) and e-mail (SMTP), at least once.

The log is the outbox (`deliver`): deliveries are fanned out from a stored cursor and
attempted with backoff; `jobs` declares the worker's reconciler. `catalog` is the one list of
event types a subscription may name; `targets` checks URLs, addresses and secret references;
`send` makes one attempt; `service` is what the CLI and API call.
"""

from keel.notifications.catalog import known, resolve
from keel.notifications.deliver import Policy, run_pass
from keel.notifications.service import (
    STATUSES,
    Delivery,
    Subscription,
    deliveries,
    list_subscriptions,
    remove,
    subscribe,
)

__all__ = [
    "STATUSES",
    "Delivery",
    "Policy",
    "Subscription",
    "deliveries",
    "known",
    "list_subscriptions",
    "remove",
    "resolve",
    "run_pass",
    "subscribe",
]
