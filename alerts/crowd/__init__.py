"""How busy a place is: camera fusion into walkable density, LOS, flow, trend,
baselines, risk, and the cell and zone metrics the rules read (pure)."""
