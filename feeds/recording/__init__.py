"""Recordings of the input topics: format, files (JSON Lines, Parquet), record, replay."""
