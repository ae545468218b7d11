# Models for outgoing partner webhooks.
