# The DaemonSet image: docker build -t shipper:0.1.0 .
# Dependencies come from requirements.lock, every one checked against its hash.
FROM python:3.11-slim-bookworm AS build
RUN apt-get update -q && apt-get install -y -q --no-install-recommends gcc pkg-config libsystemd-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md LICENSE requirements.lock ./
COPY shipper ./shipper
RUN python -m venv /opt/shipper \
    && /opt/shipper/bin/pip install --no-cache-dir --require-hashes -r requirements.lock \
    && /opt/shipper/bin/pip install --no-cache-dir --no-deps '.[journald,kubernetes]' \
    && /opt/shipper/bin/python -m compileall -q /opt/shipper/lib/python3.11/site-packages

FROM python:3.11-slim-bookworm
# libsystemd0 (journald reader) is in the base image; nothing else is needed at run time
COPY --from=build /opt/shipper /opt/shipper
ENV PATH=/opt/shipper/bin:$PATH
# Root only to read the node's root-owned log files through read-only mounts; the DaemonSet drops
# every capability and makes the root filesystem read-only. Without host mounts, run with --user 65534.
USER 0
ENTRYPOINT ["shipper"]
CMD ["run", "--config", "/etc/shipper/shipper.yaml"]
