"""Test doubles shared by the test suite and the benchmarks (e.g. a fault-injecting OpenAI-compatible server)."""
