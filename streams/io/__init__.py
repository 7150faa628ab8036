"""I/O helpers the worker and the web server share: broker probe, consumer lag, background loops."""
