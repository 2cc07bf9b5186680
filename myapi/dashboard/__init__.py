"""The operators' dashboard: GET /admin/dashboard and the per-day summary behind it."""
