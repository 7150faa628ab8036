"""``citybrain load``: load runs against a running stack, with probes and plots."""
