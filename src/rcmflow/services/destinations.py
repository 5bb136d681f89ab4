"""Every outbox destination this process can deliver to: the configured webhooks, webhook subscriptions and the
trading partners' drop folders. The worker's relay and commands that deliver at once use the same registry."""

from __future__ import annotations

from sqlalchemy import Engine

from rcmflow.services.delivery import HandlerRegistry, webhook_handlers
from rcmflow.services.policies import configured_trading_partners
from rcmflow.services.submission import submission_handlers
from rcmflow.services.webhook_delivery import register_subscription_handlers
from rcmflow.settings import Settings


def configured_handlers(engine: Engine, settings: Settings) -> HandlerRegistry:
    """Webhook handlers (``RCMFLOW_OUTBOX_WEBHOOKS``), then one drop-folder handler per trading partner."""
    handlers = webhook_handlers(settings.outbox_webhooks)
    partners = configured_trading_partners()
    for destination, handler in submission_handlers(engine, partners, settings.data_dir).items():
        handlers.register(destination, handler)
    register_subscription_handlers(handlers, engine)  # webhook:<id>, for subscriptions made at any time
    return handlers
