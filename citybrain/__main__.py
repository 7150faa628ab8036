from citybrain.cli.main import app

app()
