"""The audit log: every admin and internal write, usable by every domain."""
