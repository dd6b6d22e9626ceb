# hrd-intake: the bot service. See the README's "Deployment with docker-compose".
#
#   docker build -t hrd-intake .
#
# The image holds code only. State lives in the HRD_INTAKE_HOME volume (keyring,
# audit checkpoint, Matrix encryption store, logs) and in PostgreSQL; secrets come
# from files mounted at run time (*_FILE variables), never from the image or argv.

# The base image by digest, so a rebuild takes exactly what was reviewed. Refresh it
# on purpose (security updates of Debian and Python), e.g. monthly:
#   docker buildx imagetools inspect python:3.11-slim   -> the new digest, here and below.
ARG BASE=python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7

FROM ${BASE} AS build
WORKDIR /src
COPY pyproject.toml README.md requirements.lock ./
COPY bots ./bots
COPY crypto ./crypto
COPY flows ./flows
COPY intake ./intake
# Dependencies only from the hash-pinned lock; the project itself without any.
RUN python -m venv /opt/hrd-intake \
    && /opt/hrd-intake/bin/pip install --no-cache-dir --require-hashes -r requirements.lock \
    && /opt/hrd-intake/bin/pip install --no-cache-dir --no-deps --no-build-isolation .

FROM ${BASE}
# A fixed, unprivileged user: secret files mounted into the container must be
# readable by this uid (chown 10001 on the host).
RUN groupadd --system --gid 10001 hrd \
    && useradd --system --uid 10001 --gid hrd --no-create-home \
        --home-dir /var/lib/hrd-intake --shell /usr/sbin/nologin hrd \
    && install -d -o hrd -g hrd -m 0700 /var/lib/hrd-intake
COPY --from=build /opt/hrd-intake /opt/hrd-intake
ENV PATH=/opt/hrd-intake/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HRD_INTAKE_HOME=/var/lib/hrd-intake \
    HRD_INTAKE_LOG_FORMAT=json
VOLUME ["/var/lib/hrd-intake"]
WORKDIR /var/lib/hrd-intake
USER hrd:hrd
# /healthz when HRD_INTAKE_HTTP_ADDR is set (docker-compose.yml sets it).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://%s/healthz' % os.environ['HRD_INTAKE_HTTP_ADDR'], timeout=4)"]
ENTRYPOINT ["hrd-intake"]
CMD ["serve"]
