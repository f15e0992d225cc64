# Layerlab in a container: `docker compose up` (see docker-compose.yml).
#
# Stage 1 installs the page's third-party JS from package.json and its lockfile (never pasted into the repo).
FROM node:20-slim AS web
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error

# Stage 2 is the server.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# torch first, pinned as in pyproject.toml, so that code changes do not re-download it.
# From PyPI this is the CUDA build on x86-64 (several GB); for a CPU-only image pass
#   --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG TORCH_INDEX_URL=
RUN pip install "torch==2.13.0" ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}

# Installed in place (-e): the server finds templates/, static/ and node_modules/ next to its package.
COPY pyproject.toml README.md ./
COPY engine ./engine
COPY server ./server
# With Ray (the cluster profile's trainers and replicas); PostgreSQL's driver is a plain dependency.
RUN pip install -e ".[cluster]"
COPY templates ./templates
COPY static ./static
COPY --from=web /app/node_modules ./node_modules

# An unprivileged user; /data (the database volume) belongs to it.
RUN useradd --system --uid 10001 --home-dir /app layerlab \
    && mkdir -p /data && chown layerlab /data
USER layerlab
ENV LAYERLAB_DATABASE_URL=sqlite:////data/layerlab.db
VOLUME ["/data"]
EXPOSE 8000

# Exec form: layerlab is PID 1 and gets SIGTERM itself; it stops runs and closes sockets within ~3 s.
CMD ["layerlab", "serve", "--host", "0.0.0.0", "--port", "8000"]
