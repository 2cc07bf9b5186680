"""Adapters to the outside world (SQS, OAuth providers, EOD vendors, reward vendors)."""
