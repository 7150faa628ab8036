"""The worker: the Faust app and its agents, the input consumer, stores, health and
metrics (I/O)."""
