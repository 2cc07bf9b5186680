"""Housekeeping of expired rows (the GC job)."""
