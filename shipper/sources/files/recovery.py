"""Finding, at start, the files that were rotated while the agent was not running.

A checkpoint names a file by path, identity (device and inode) and fingerprint (its first bytes). When
the path leads elsewhere now, the file is looked for by identity beside where the path leads
(kubelet's `0.log.<timestamp>`, logrotate's `app.log.1`), and taken only if its first bytes still
match: an inode reused by another file, perhaps a copy of lines already read, is never read.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator

from shipper.sources.files.checkpoint import FileCheckpoint
from shipper.sources.files.descriptors import out_of_descriptors
from shipper.sources.files.identity import FileIdentity, Fingerprint


def find_rotated(key: str, checkpoint: FileCheckpoint) -> tuple[str, int, FileIdentity] | None:
    """(path, open descriptor, identity) of the checkpoint's file in the directory of its path, or
    None when it is gone from there (its unread bytes, if any, were rotated away)."""
    directory = os.path.dirname(os.path.realpath(checkpoint.path))
    return find_by_identity(directory, key, checkpoint.fingerprint, checkpoint.offset)


def find_by_identity(directory: str, key: str, fingerprint: Fingerprint | None,
                     offset: int = 0) -> tuple[str, int, FileIdentity] | None:
    """(path, open descriptor, identity) of the regular file `key` in `directory`, if it still starts
    with `fingerprint` and holds `offset` bytes; None when it is not there.

    Out of descriptors (EMFILE, ENFILE) raises: that says nothing about the file, and must never be
    taken for "rotated away"."""
    for path, status in regular_files(directory):
        identity = FileIdentity.of(status)
        if identity.key != key:
            continue
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as error:
            if out_of_descriptors(error):
                raise
            continue
        if (fingerprint is None or fingerprint.matches(fd)) and offset <= status.st_size:
            return path, fd, identity
        os.close(fd)
    return None


def regular_files(directory: str) -> Iterator[tuple[str, os.stat_result]]:
    """The regular files in `directory` (not behind symlinks) with their status; none when it cannot be
    listed. Out of descriptors raises (see find_by_identity)."""
    try:
        entries = list(os.scandir(directory))
    except OSError as error:
        if out_of_descriptors(error):
            raise
        return
    for entry in entries:
        try:
            status = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISREG(status.st_mode):
            yield entry.path, status
