# The DaemonSet image: docker build -t shipper:0.1.0 .
FROM python:3.11-slim-bookworm AS build
RUN apt-get update -q && apt-get install -y -q --no-install-recommends gcc pkg-config libsystemd-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY shipper ./shipper
RUN pip wheel --no-cache-dir --wheel-dir /wheels '.[journald,kubernetes]'

FROM python:3.11-slim-bookworm
# libsystemd0 (journald reader) is in the base image; nothing else is needed at run time
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels 'shipper[journald,kubernetes]' && rm -rf /wheels \
    && python -m compileall -q /usr/local/lib/python3.11/site-packages
# Root only to read the node's root-owned log files through read-only mounts; the DaemonSet drops
# every capability and makes the root filesystem read-only. Without host mounts, run with --user 65534.
USER 0
ENTRYPOINT ["shipper"]
CMD ["run", "--config", "/etc/shipper/shipper.yaml"]
