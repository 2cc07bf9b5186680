"""Operator alerts (a batch job failed, a dead-letter queue filling, EOD prices missing
past the deadline, an integrity failure): templated, deduplicated by key, throttled, and
posted to a chat webhook (myapi/providers/alerts)."""
