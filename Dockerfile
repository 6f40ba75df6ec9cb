# 마을길잡이 — production image. Build: docker build -t maeul .
# One host: the SQLite default below, /data a volume. Several hosts: MAEUL_DATABASE_URL on
# PostgreSQL and MAEUL_STORAGE=database, and the containers keep no state (see compose.yaml).
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MAEUL_ENV=production \
    MAEUL_CONTENT_DIR=/app/content \
    MAEUL_UPLOAD_DIR=/data/uploads \
    MAEUL_DATABASE_URL=sqlite:////data/maeul.db \
    MAEUL_WORKERS=2

WORKDIR /app

# WeasyPrint (the readiness PDF) needs Pango and HarfBuzz; Korean text needs a CJK font.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk \
 && rm -rf /var/lib/apt/lists/*

# Dependencies first, pinned by the lock, so code changes reuse this layer.
COPY pyproject.toml requirements.lock ./
RUN mkdir -p app && touch app/__init__.py \
 && pip install -c requirements.lock . \
 && pip uninstall -y maeul

COPY app ./app
COPY migrations ./migrations
COPY content ./content
COPY vendor ./vendor
COPY alembic.ini ./
# Editable: the app finds alembic.ini, migrations/ and content/ beside its package in /app.
RUN pip install --no-deps -e . \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin maeul \
 && mkdir -p /data/uploads && chown -R maeul:maeul /data

USER maeul
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"

# MAEUL_SECRET_KEY must be provided at run time; production refuses the default. Migrates at
# start (hosts starting together take turns), then serves MAEUL_WORKERS uvicorn workers.
CMD ["maeul", "serve", "--host", "0.0.0.0", "--port", "8000"]
