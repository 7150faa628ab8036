"""``citybrain bench``: throughput and query benchmarks, side by side, with plots."""
