"""The event catalogue (topics, payloads, routing, handlers) and the outbox relay."""
