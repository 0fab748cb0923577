"""Gather the per-architecture images of an OCI layout into one image index:
    python3 image/index.py LAYOUT VERSION ARCH...

Each image tagged VERSION-ARCH (as image/build.sh packs them) becomes an entry of an index whose
platform is read from the image's own configuration; the index is stored as a blob and tagged VERSION,
so `skopeo copy --all oci:LAYOUT:VERSION ...` publishes every architecture under one tag, and a node
pulls the one of its CPU. Prints the index's digest. The index is written with sorted keys and no
blanks, in the order the architectures are given, so the same images give the same digest.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

INDEX = "application/vnd.oci.image.index.v1+json"
REF_NAME = "org.opencontainers.image.ref.name"
VARIANTS = {"arm64": "v8"}


def blob(layout: Path, digest: str) -> dict:
    return json.loads((layout / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes())


def store(layout: Path, content: bytes) -> str:
    digest = hashlib.sha256(content).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(content)
    return f"sha256:{digest}"


def platform_entry(layout: Path, descriptor: dict) -> dict:
    config = blob(layout, blob(layout, descriptor["digest"])["config"]["digest"])
    platform = {"architecture": config["architecture"], "os": config["os"]}
    if config["architecture"] in VARIANTS:
        platform["variant"] = VARIANTS[config["architecture"]]
    entry = {key: descriptor[key] for key in ("mediaType", "digest", "size")}
    return {**entry, "platform": platform}


def main(layout: Path, version: str, architectures: list[str]) -> str:
    top = json.loads((layout / "index.json").read_text())
    tagged = {entry.get("annotations", {}).get(REF_NAME): entry for entry in top["manifests"]}
    entries = [platform_entry(layout, tagged[f"{version}-{arch}"]) for arch in architectures]
    content = json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": entries},
                         sort_keys=True, separators=(",", ":")).encode()
    digest = store(layout, content)
    top["manifests"] = [entry for name, entry in tagged.items() if name != version] + [
        {"mediaType": INDEX, "digest": digest, "size": len(content), "annotations": {REF_NAME: version}}]
    (layout / "index.json").write_text(json.dumps(top, sort_keys=True, separators=(",", ":")))
    return digest


if __name__ == "__main__":
    print(main(Path(sys.argv[1]), sys.argv[2], sys.argv[3:]))
