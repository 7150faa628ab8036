"""Backtest: replay a recording through the pipeline, compare rule sets, report and plot."""
