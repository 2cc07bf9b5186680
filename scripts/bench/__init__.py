"""Benchmarks. Not part of the test run: each is a script run on its own, e.g.
`python -m scripts.bench.submit`."""
