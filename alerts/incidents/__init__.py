"""From findings to incidents: hysteresis per rule track, fusion into incidents, the
alert lifecycle and people's actions, and the ground-truth labels of backtests (pure)."""
