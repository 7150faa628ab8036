from citybrain.cli import app

app()
