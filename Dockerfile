# pypicloud with every backend (file, S3, GCS, Azure; SQL, Redis, DynamoDB; LDAP...).
#   docker build -t pypicloud .
#   docker run -p 6543:6543 -v pypicloud-data:/var/lib/pypicloud \
#       -e PPC_SESSION_VALIDATE_KEY=$(openssl rand -hex 32) pypicloud
# Configuration: the shipped production.ini with PPC_* environment variables, or your own
# ini mounted in and named by PYPICLOUD_INI. The build and install commands are scripts in
# deploy/, which the test suite runs outside Docker (tests/e2e/test_docker.py).

# -- build: wheels for everything, compilers allowed here only ---------------------------
FROM python:3.11-slim AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev libldap2-dev libsasl2-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.rst LICENSE ./
COPY pypicloud ./pypicloud
COPY deploy/docker-build.sh /usr/local/bin/
RUN docker-build.sh /src /wheels

# -- final: the wheels, the run-time libraries, no compiler ------------------------------
FROM python:3.11-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends libldap-2.5-0 libsasl2-2 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/pypicloud --create-home pypicloud
COPY deploy/docker-install.sh deploy/docker-entrypoint.sh /usr/local/bin/
COPY --from=build /wheels /tmp/wheels
RUN docker-install.sh /tmp/wheels && rm -rf /tmp/wheels
COPY production.ini /etc/pypicloud/production.ini
# Listen on every interface of the container; no nginx beside the app in this image, so
# the X-Accel-Redirect hand-over is off (set PPC_STORAGE_ACCEL_REDIRECT when nginx shares
# the volume and has the internal location).
ENV PYPICLOUD_INI=/etc/pypicloud/production.ini \
    PORT=6543 \
    PPC_STORAGE_ACCEL_REDIRECT= \
    PYTHONUNBUFFERED=1
# File storage and SQLite (storage.dir and db.url of production.ini) live here.
VOLUME ["/var/lib/pypicloud"]
USER pypicloud
EXPOSE 6543
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
    CMD ["docker-entrypoint.sh", "health"]
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["serve"]
