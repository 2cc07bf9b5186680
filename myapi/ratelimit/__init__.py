"""Rate limiting: a sliding window shared by every API process (SPEC §8)."""
