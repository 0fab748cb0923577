"""Kubernetes metadata that the log file's path already tells, with no API call.

/var/log/containers/<pod>_<namespace>_<container>-<container id>.log
  -> symlink to /var/log/pods/<namespace>_<pod>_<pod uid>/<container>/<restart>.log
"""

from __future__ import annotations

import functools
import os
import re

CONTAINER_LINK = re.compile(
    r"^(?P<pod_name>[^_/]+)_(?P<namespace>[^_/]+)_(?P<container_name>[^/]+)-(?P<container_id>[0-9a-f]{64})\.log$"
)
POD_DIRECTORY = re.compile(
    r"/(?P<namespace>[^_/]+)_(?P<pod_name>[^_/]+)_(?P<pod_uid>[0-9a-fA-F\-]+)/(?P<container_name>[^/]+)/[^/]+$"
)


def metadata_from_path(path: str) -> dict[str, str]:
    """namespace, pod_name, pod_uid, container_name, container_id: whichever the path (and link) tell.
    Remembered per path: every scan asks again for every file, and resolving the link costs a system
    call per path component (a kubelet link names its container id, so it never points elsewhere)."""
    return dict(_metadata_from_path(path))


@functools.lru_cache(maxsize=16_384)
def _metadata_from_path(path: str) -> tuple[tuple[str, str], ...]:
    found: dict[str, str] = {}
    link = CONTAINER_LINK.match(os.path.basename(path))
    if link:
        found.update(link.groupdict())
    try:
        target = os.path.realpath(path)
    except OSError:
        target = path
    pod = POD_DIRECTORY.search(target) or POD_DIRECTORY.search(path)
    if pod:
        for key, value in pod.groupdict().items():
            found.setdefault(key, value)
    return tuple(found.items())
