"""The ``citybrain`` command: one module per sub-command, wired in :mod:`citybrain.cli.main`."""
