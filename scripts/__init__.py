"""Developer entry points: the embedded run command, seeding, benchmarks."""
