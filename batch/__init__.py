"""Batch side: queue tooling, workers and the scheduler (`python -m batch.<module>`)."""
