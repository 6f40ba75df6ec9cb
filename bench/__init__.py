"""Benchmarks of 마을길잡이: `make bench` (= `.venv/bin/python -m bench.run`). Measurements, never tests."""
