# The daemon in a container: locked dependencies, a non-root user, the database on a volume.
#   docker build -t crawler .
#   docker run -d -v crawler-data:/data -v "$PWD/config:/app/config:ro" crawler
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CRAWLER_CONFIG=/app/config \
    CRAWLER_DB=/data/crawler.db

WORKDIR /app
COPY pyproject.toml requirements.lock README.md scrapy.cfg ./
COPY crawler ./crawler
COPY spiders ./spiders
COPY storage ./storage
RUN pip install --no-cache-dir -c requirements.lock . \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin crawler \
 && mkdir -p /data \
 && chown crawler:crawler /data
COPY config ./config

USER crawler
VOLUME ["/data"]
STOPSIGNAL SIGTERM
CMD ["crawler", "run"]
