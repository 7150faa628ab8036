"""The tools around the product: backtest (and, by and by, bench and load)."""
