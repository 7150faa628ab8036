"""Configuration: the settings (environment, TOML) and the project's topics."""
