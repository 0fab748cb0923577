"""Blocks of stored records as the bytes of framed RFC 5424 messages, a block at a time.

A block's records share their metadata and mostly their fields mappings, so the part before each
message (`<PRI>1`, the headers) is rendered once per distinct fields mapping, the second of each
timestamp once per second, and the block's frames are joined and encoded as one string. That
batch path is taken only when every message of the block goes out whole, as one frame: no message
needs cutting or splitting, none holds a newline that newline framing must escape or split, and no
header template names the message itself. Any other block takes the per-record path, which handles
every case; both give the same bytes for the blocks the batch path takes (a property test holds
them to it). Where the `_syslog` kernel is compiled (shipper/kernels/), the batch path's frames of a
block with up to 8 heads are written by it, in C; `_prefixes` and `_interleave` are its reference.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shipper import kernels
from shipper.buffer.spool import StoredBlock
from shipper.record import NS
from shipper.sinks.syslog.config import SyslogOptions
from shipper.sinks.syslog.framing import fit, newline, newline_bodies, octet_counting
from shipper.sinks.syslog.rfc5424 import TIMESTAMP_SIZE, Rfc5424, second_texts
from shipper.text import utf8_size

KERNEL_HEADS = 8  # the kernel finds a record's head by a scan of the block's heads: at most this many


@dataclass(frozen=True, slots=True)
class Head:
    """Everything of a message but its time and text: `before` + TIMESTAMP + `after` + MSG."""

    before: str  # "<PRI>1 "
    after: str  # " HOSTNAME APP-NAME PROCID MSGID SD "
    size: int  # UTF-8 bytes of before + timestamp + after


class Encoder:
    def __init__(self, options: SyslogOptions, compiled: bool = True):
        self.options = options
        self.kernel = kernels.syslog if compiled else None
        self.format = Rfc5424(options)
        self.frame = octet_counting if options.framing == "octet_counting" else newline
        self.oversize = 0  # messages cut or split to fit max_message_size, since the caller last took it

    def encode(self, blocks: list[StoredBlock]) -> tuple[bytes, int]:
        """The framed messages of every record of `blocks` after each block's `start`, and how many records."""
        parts: list[bytes] = []
        events = 0
        for block in blocks:
            start = block.start
            messages = block.messages[start:] if start else block.messages
            batch = self._batch(block, messages)
            parts.append(batch if batch is not None else self._per_record(block))
            events += len(messages)
        return b"".join(parts), events

    def _batch(self, block: StoredBlock, messages: list[str]) -> bytes | None:
        """The block's frames the fast way, or None when a record needs the per-record path."""
        if self.format.message_in_headers:
            return None
        text = "".join(messages)
        if self.frame is newline and ("\n" in text or (self.options.newlines == "escape" and "\\" in text)):
            return None
        start = block.start
        fields = block.fields[start:] if start else block.fields
        mappings = {id(f): f for f in fields}
        heads = self._heads(block.common, block.timestamps[start] if messages else 0, fields, mappings)
        size = len if text.isascii() else utf8_size
        if max(map(size, messages), default=0) + max((h.size for h in heads.values()), default=0) \
                > self.options.max_message_size:
            return None
        if self.kernel is not None and 0 < len(heads) <= KERNEL_HEADS:
            framed = self._compiled(block, heads, mappings)
            if framed is not None:
                return framed
        times = block.timestamps[start:] if start else block.timestamps
        prefixes = self._prefixes(heads, times, messages, fields, size)
        frames = _interleave(prefixes, messages, "\n" if self.frame is newline else "")
        try:
            return "".join(frames).encode()
        except UnicodeEncodeError:  # a lone surrogate: sized as 3 bytes, sent as one `?` (per record)
            return None

    def _prefixes(self, heads: dict[int, Head], times: list[int], messages: list[str], fields: list[Any],
                  size: Callable[[str], int]) -> list[str]:
        """Each record's text before its message; a block of one head and times within an hour (nearly
        every block) is rendered in a single pass, with no per-record head lookup or time list."""
        newline_framed = self.frame is newline
        table = second_texts(times) if len(heads) == 1 else None
        if table:
            first, seconds = table
            (head,) = heads.values()
            before, after, head_size = head.before, head.after, head.size
            if newline_framed:
                return [f"{before}{seconds[t // NS - first]}{str(t)[10:16]}Z{after}" for t in times]
            return [f"{head_size + n} {before}{seconds[t // NS - first]}{str(t)[10:16]}Z{after}"
                    for t, n in zip(times, map(size, messages), strict=True)]
        stamps = self.format.timestamps(times)
        if newline_framed:
            return [f"{h.before}{s}{h.after}" for s, f in zip(stamps, fields, strict=True) if (h := heads[id(f)])]
        return [f"{h.size + size(m)} {h.before}{s}{h.after}"
                for s, m, f in zip(stamps, messages, fields, strict=True) if (h := heads[id(f)])]

    def _compiled(self, block: StoredBlock, heads: dict[int, Head], mappings: dict[int, Any]) -> bytes | None:
        """The block's frames by the `_syslog` kernel; None where it leaves them to the reference."""
        try:
            encoded = tuple((head.before.encode(), head.after.encode()) for head in heads.values())
        except UnicodeEncodeError:  # a lone surrogate in a header: the reference's encode fails too
            return None
        assert self.kernel is not None
        framed: bytes | None = self.kernel.frames(block.timestamps, block.messages, block.fields, block.start,
                                                  tuple(mappings.values()), encoded, self.frame is octet_counting)
        return framed

    def _heads(self, common: Mapping[str, Any], timestamp: int, fields: list[Any],
               mappings: dict[int, Any]) -> dict[int, Head]:
        """The head of each distinct fields mapping of the block (the records share them), in the order
        of `mappings`."""
        fmt = self.format
        heads = {}
        # records per mapping, for counting the unknown severities and facilities a head stands for
        shared = Counter(map(id, fields)) if fmt.severity_path or fmt.facility_path else None
        for mapping in mappings.values():
            record = (timestamp, "", mapping)
            after = f" {fmt.headers(common, record)} "
            before = f"<{fmt.priority(record, common, shared[id(mapping)] if shared else 1)}>1 "
            heads[id(mapping)] = Head(before, after, len(before) + TIMESTAMP_SIZE + utf8_size(after))
        return heads

    def _per_record(self, block: StoredBlock) -> bytes:
        frames: list[bytes] = []
        options, fmt, frame = self.options, self.format, self.frame
        records = block.records[block.start :] if block.start else block.records
        block_headers = None
        for record in records:
            if fmt.per_record(record):
                headers = fmt.headers(block.common, record)
            else:
                headers = block_headers = block_headers or fmt.headers(block.common, record)
            prefix = fmt.prefix(record, headers, block.common)
            bodies = newline_bodies(record[1], options.newlines) if frame is newline else [record[1]]
            for body in bodies:
                parts, cut = fit(prefix, body, options.max_message_size, options.oversize)
                self.oversize += cut
                frames.extend(frame((prefix + part).encode("utf-8", "replace")) for part in parts)
        return b"".join(frames)


def _interleave(prefixes: list[str], messages: list[str], suffix: str) -> list[str]:
    """[prefix, message, suffix, prefix, ...]: joined once, a message's text is copied once, not twice."""
    step = 3 if suffix else 2
    parts = [suffix] * (step * len(messages))
    parts[0::step] = prefixes
    parts[1::step] = messages
    return parts
