"""Benchmark of the events-bus gateway: `python -m bench.gateway`."""
