"""The rule language: its vocabulary and metric catalogue, the rule-file format and
checker, rule-set changes, and the engine that evaluates rules (pure)."""
