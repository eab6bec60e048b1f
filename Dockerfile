# activitylog: the API and in-process worker (embedded, SQLite on the data volume), or any one
# process of a scale-out on PostgreSQL (compose.yaml). docs/operations.md#deployment.
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /opt/activitylog \
    && /opt/activitylog/bin/pip install --no-cache-dir .

FROM python:3.12-slim
# A user of its own: the process writes only to /var/lib/activitylog.
RUN useradd --system --uid 10001 --home-dir /var/lib/activitylog --create-home activitylog
COPY --from=build /opt/activitylog /opt/activitylog
ENV PATH=/opt/activitylog/bin:$PATH \
    ACTIVITYLOG_DB=/var/lib/activitylog/activitylog.db \
    ACTIVITYLOG_HOST=0.0.0.0 \
    ACTIVITYLOG_PORT=8080 \
    ACTIVITYLOG_BEHIND_PROXY=true
VOLUME ["/var/lib/activitylog"]
USER activitylog
WORKDIR /var/lib/activitylog
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/health/ready', timeout=2).status == 200 else 1)"]
ENTRYPOINT ["activitylog"]
CMD ["serve"]
