# Image for the worker, web and simulator services of docker-compose.yml.
FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY citybrain citybrain
COPY streams streams
COPY geo geo
COPY alerts alerts
COPY feeds feeds
COPY web web
RUN pip install --no-cache-dir -e . && npm ci --prefix web/frontend --no-audit --no-fund
ENTRYPOINT ["citybrain"]
