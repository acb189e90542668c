"""Benchmarks: every figure measured side by side with a naive baseline in the same run.

`make bench` (python -m bench.run) builds its own data in a database of its own (the name in
DATABASE_URL with `_bench` appended) and writes bench/results/latest.json and README.md.
"""
