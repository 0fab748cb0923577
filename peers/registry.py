"""A real OCI registry (the CNCF Distribution registry, Debian's `docker-registry`) on loopback, over
plain HTTP, storing in a directory of the test's: where the image test publishes the image the way the
docs say, with skopeo."""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from peers.rsyslog import free_port

REGISTRY = shutil.which("docker-registry") or "/usr/bin/docker-registry"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


class Registry:
    def __init__(self, directory: Path):
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.config = directory / "registry.yml"
        self.config.write_text(
            "version: 0.1\n"
            f"storage: {{filesystem: {{rootdirectory: {directory / 'storage'}}}}}\n"
            f"http: {{addr: '{self.address}'}}\n"
        )
        self.log = directory / "registry.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 20) -> Registry:
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen([REGISTRY, "serve", str(self.config)], stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"http://{self.address}/v2/", timeout=1).close()
                return self
            except (urllib.error.URLError, ConnectionError):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"registry did not start: {self.log.read_text()}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def manifest_digest(self, repository: str, reference: str) -> str:
        """The digest the registry serves for a tag or digest (its Docker-Content-Digest header)."""
        request = urllib.request.Request(f"http://{self.address}/v2/{repository}/manifests/{reference}",
                                         method="HEAD", headers={"Accept": f"{OCI_INDEX}, {OCI_MANIFEST}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.headers["Docker-Content-Digest"]
