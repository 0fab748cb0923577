"""Request bodies: the spool's records as Cloud Logging LogEntry objects (JSON), cut into batches within
`max_batch_events` and `max_batch_bytes`, each batch knowing the spool position after its last record.

An entry carries its logName, resource, severity and labels (rendered once per distinct fields mapping
of a block: records share them), its timestamp, an insertId made from the record's spool position (a
batch sent again after a crash carries the same ids, and Cloud Logging shows entries of the same
timestamp and insertId once), and `jsonPayload` or `textPayload`.

Totality: an entry over the API's 256 KiB is split by its message into entries of at most
MAX_ENTRY_BYTES, linked by LogEntry's own `split` field (uid, index, totalSplits), counted as
`oversize_split`; when the record's other fields alone leave no room, its JSON text is split as
`textPayload` instead; a record that still cannot be written (labels alone past the limit) is left
out and counted as unencodable. Every piece of a record stays in one batch.
"""

from __future__ import annotations

import bisect
import collections
import gzip
import hashlib
import itertools
import operator
import socket
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from shipper.buffer.spool import Position, StoredBlock
from shipper.record import lookup, rfc3339_texts
from shipper.severity import severity_number
from shipper.sinks.cutting import BatchCutter
from shipper.sinks.encoding import encoded, json_object, json_string_bodies
from shipper.sinks.google_cloud_logging.config import GoogleCloudLoggingOptions
from shipper.sinks.google_cloud_logging.resource import Resources
from shipper.templates import MissingField, Template, field_path
from shipper.text import cut_utf8, valid_text

MAX_ENTRY_BYTES = 256 * 1024 - 8 * 1024  # the API's 256 KiB counts its own form of an entry: room kept
MAX_LABEL_VALUE = 64 * 1024
MAX_LOG_ID = 511
LEAST_PIECE = 1024  # message bytes an entry piece must have room for, or the record is split as text
GZIP_LEVEL = 6
# LogSeverity of each syslog severity, emerg (0) to debug (7)
LOG_SEVERITIES = ("EMERGENCY", "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG")
_LOG_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_-.")


@dataclass(slots=True)
class Batch:
    items: list[bytes] = field(default_factory=list)  # each record's entry after its place; split: its entries
    places: list[bytes] = field(default_factory=list)  # each record's logName and resource (shared objects)
    end: Position = field(default_factory=lambda: Position(0, 0))
    size: int = 0  # bytes of the body's entries before compression
    first_time: float = 0.0
    last_time: float = 0.0
    unencodable: int = 0  # records left out: they could not be written within the API's limits
    split: dict[int, int] = field(default_factory=dict)  # item -> its entries, for items of more than one

    @property
    def events(self) -> int:
        return len(self.items)

    def records_of_entries(self, indexes: set[int]) -> int:
        """How many records the entries at `indexes` (of the request's entries) belong to."""
        if not self.split:
            return len(indexes & set(range(len(self.items))))
        starts = list(itertools.accumulate((self.split.get(i, 1) for i in range(len(self.items))), initial=0))
        return len({bisect.bisect_right(starts, index) - 1 for index in indexes if 0 <= index < starts[-1]})

    def halves(self) -> tuple[Batch, Batch] | None:
        if self.events < 2:
            return None
        middle = self.events // 2
        first, second = self.items[:middle], self.items[middle:]
        return (Batch(first, self.places[:middle], self.end, self.size // 2, self.first_time, self.last_time,
                      split={i: n for i, n in self.split.items() if i < middle}),
                Batch(second, self.places[middle:], self.end, self.size - self.size // 2, self.first_time,
                      self.last_time, split={i - middle: n for i, n in self.split.items() if i >= middle}))


@dataclass(slots=True)
class Encoded:
    """A block's records from its start as entries, and what writing them took."""

    items: list[bytes | None]  # each record's entry after `{` and its place; a split record's entries whole
    places: list[bytes]  # each record's `"logName":...,"resource":{...}`
    split: dict[int, int]  # record (from the block's start) -> its entries, when more than one
    fallback_named: int = 0
    lengths: list[int] = field(default_factory=list)  # `sizes()`, as the writer left the records

    def sizes(self) -> list[int]:
        """Each record's bytes in a request, with its place and separators (nothing when left out)."""
        items, places = self.items, self.places
        if None in items:
            return [len(item) + len(place) + 3 if item is not None else 0 for item, place in zip(items, places,
                                                                                              strict=True)]
        with_places = map(operator.add, map(len, items), map(len, places))  # type: ignore[arg-type]
        return list(map(operator.add, with_places, itertools.repeat(3)))


class EntryWriter:
    """Writes a block's records as entries (see the module's docstring)."""

    def __init__(self, options: GoogleCloudLoggingOptions, resources: Resources):
        self.options, self.resources = options, resources
        self.log_name = Template(options.log_name, options.layout)
        self.fallback_log_id = _log_id(options.fallback_log_name)
        self.labels = {key: Template(source, options.layout) for key, source in options.labels.items()}
        self.severity_path = (field_path(options.severity_field) if options.severity_field else None) or ("severity",)
        self.per_record = any(path == ("message",) for template in (self.log_name, *self.labels.values())
                              for path in template.fields)
        self.node_tag = hashlib.blake2b(socket.gethostname().encode(), digest_size=4).hexdigest()
        self.payload_key = b'"jsonPayload":' if options.payload == "json" else b'"textPayload":'
        self._places: dict[bytes, bytes] = {}  # one object for each place: a request compares them

    def encoded(self, block: StoredBlock) -> Encoded:
        """Each record of `block` from its start as its entries. What records share is made once per
        distinct fields mapping; each entry is joined from its parts by C-level maps."""
        start, common = block.start, block.common
        fields, messages = block.fields[start:], block.messages[start:]
        times = "\n".join(rfc3339_texts(block.timestamps[start:])).encode().split(b"\n")
        payloads, opening, closing = self._payloads(block)
        if self.per_record:
            made = [self._head(common, (0, message, own)) for message, own in zip(messages, fields, strict=True)]
            places, heads = [place for place, _, _ in made], [head for _, head, _ in made]
            fallbacks = sum(fallback for _, _, fallback in made)
        else:
            shared = {key: self._head(common, (0, "", own))
                      for key, own in dict(zip(map(id, fields), fields, strict=True)).items()}
            keys = list(map(id, fields))
            places = list(map({key: place for key, (place, _, _) in shared.items()}.__getitem__, keys))
            heads = list(map({key: head for key, (_, head, _) in shared.items()}.__getitem__, keys))
            fallen = {key for key, (_, _, fallback) in shared.items() if fallback}
            fallbacks = sum(map(fallen.__contains__, keys)) if fallen else 0
        result = Encoded([], places, {}, fallbacks)
        ids = "\n".join(map(f"{self.node_tag}-{block.id:x}-{{:x}}".format, range(start, start + len(fields))))
        insert_ids = ids.encode().split(b"\n")
        between = itertools.repeat(b'","insertId":"'), itertools.repeat(opening)
        parts = (heads, times, between[0], insert_ids, between[1])
        if None in payloads:  # records that cannot be written: left out (counted by the builder)
            result.items = [None if payload is None else b"".join((*head, payload, closing))
                            for *head, payload in zip(*parts, payloads, strict=False)]  # repeat() parts never end
        else:
            result.items = list(map(b"".join, zip(*parts, payloads, itertools.repeat(closing))))
        result.lengths = result.sizes()
        if max(result.lengths, default=0) > MAX_ENTRY_BYTES - 2:  # with `{` and `,` between place and head
            self._split_oversize(block, result, heads, times, insert_ids)
            result.lengths = result.sizes()
        return result

    def _payloads(self, block: StoredBlock) -> tuple[list[bytes | None], bytes, bytes]:
        """Each record's payload, with what goes before and after it in its entry: text payloads the
        insides of the messages' JSON strings (encoding.json_string_bodies), or each one's JSON."""
        key = b'",' + self.payload_key
        if self.options.payload == "json":
            return encoded(block, "json", self.options.layout), key, b"}"
        messages = block.messages[block.start:]
        texts = json_string_bodies(messages)
        if texts is None:
            return [orjson.dumps(valid_text(message)) for message in messages], key, b"}"
        return list[bytes | None](texts), key + b'"', b'"}'

    def _head(self, common: Mapping[str, Any], record: Any) -> tuple[bytes, bytes, bool]:
        """(the entry's place: its logName and resource, which a request may hold for all its entries;
        the entry's text after its place up to its timestamp's value; whether its log name is the
        fallback)."""
        def field_of(path: tuple[str, ...]) -> Any:
            return lookup(common, record, path)

        fallback = False
        try:
            log_id = _log_id(self.log_name.render(field_of)) or self.fallback_log_id
        except MissingField:
            log_id, fallback = self.fallback_log_id, True
        labels = {}
        for key, template in self.labels.items():
            try:
                labels[key] = cut_utf8(valid_text(template.render(field_of)), MAX_LABEL_VALUE)[0]
            except MissingField:
                continue
        number = severity_number(field_of(self.severity_path))
        place = b"".join((b'"logName":', orjson.dumps(f"projects/{self.options.project_id}/logs/{log_id}"),
                          b',"resource":', self.resources.of(common)))
        head = b"".join((b'"severity":"', (LOG_SEVERITIES[number] if number is not None else "DEFAULT").encode(),
                         b'"', b',"labels":' + orjson.dumps(labels) if labels else b"", b',"timestamp":"'))
        if len(self._places) >= 4096:  # pods come and go: the table stays bounded
            self._places.clear()
        return self._places.setdefault(place, place), head, fallback

    def _split_oversize(self, block: StoredBlock, result: Encoded, heads: list[bytes],
                        times: list[bytes], ids: list[bytes]) -> None:
        for index, item in enumerate(result.items):
            if item is None or len(item) + len(result.places[index]) <= MAX_ENTRY_BYTES - 2:
                continue
            record = block.record(block.start + index)
            head = b"{" + result.places[index] + b"," + heads[index]
            pieces = self._pieces(block.common, record, head, times[index], ids[index])
            if pieces is None:
                result.items[index] = None
            else:
                result.items[index] = b",".join(pieces)
                result.split[index] = len(pieces)

    def _pieces(self, common: Mapping[str, Any], record: Any, head: bytes, time: bytes,
                insert_id: bytes) -> list[bytes] | None:
        """The record as entries of at most MAX_ENTRY_BYTES each; None when it cannot be."""
        payload_of: Callable[[str], bytes | None]
        key, message = self.payload_key, record[1]
        if self.options.payload == "json":
            def payload_of(piece: str) -> bytes | None:
                return json_object(common, (record[0], piece, record[2]), self.options.layout)
            message = valid_text(message)
            if MAX_ENTRY_BYTES - len(head) - len(payload_of("") or b"") < LEAST_PIECE:
                whole = json_object(common, record, self.options.layout)  # the other fields fill the entry:
                message, key = (whole or b"").decode("utf-8", "replace"), b'"textPayload":'  # all as text
        if key == b'"textPayload":':
            def payload_of(piece: str) -> bytes | None:
                return orjson.dumps(valid_text(piece))
        empty = len(payload_of("") or b"")
        room = MAX_ENTRY_BYTES - len(head) - empty - 160  # 160: the timestamp, insertId and split fields
        if room < LEAST_PIECE:
            return None
        texts = _fitting_pieces(message, room, lambda piece: len(payload_of(piece) or b"") - empty)
        return [b"".join((head, time, b'","insertId":"', insert_id, b"-%d" % number, b'","split":{"uid":"',
                          insert_id, b'","index":%d,"totalSplits":%d},' % (number, len(texts)), key,
                          payload_of(piece) or b'""', b"}")) for number, piece in enumerate(texts)]


def _fitting_pieces(text: str, room: int, size_of: Callable[[str], int]) -> list[str]:
    """`text` cut (between characters) into the fewest pieces whose encoded size is at most `room`
    each, greedily: each piece is the longest head of the rest that fits, its cut lowered in proportion
    when escapes make a head larger than its bytes (strictly, so it ends: a lone character fits)."""
    pieces: list[str] = []
    rest = text
    while rest or not pieces:
        limit = room
        while True:
            head, tail = cut_utf8(rest, limit)
            if not head and rest:  # a character longer than `limit` (only below 4 bytes)
                head, tail = rest[0], rest[1:]
            size = size_of(head)
            if size <= room or len(head) < 2:
                break
            limit = max(1, min(limit - 1, limit * room // size))
        pieces.append(head)
        rest = tail
    return pieces


def _log_id(text: str) -> str:
    """A log ID Cloud Logging takes, URL-encoded as logName wants it: other characters become `_`."""
    kept = "".join(char if char in _LOG_ID_CHARS else "_" for char in text[:MAX_LOG_ID])
    return urllib.parse.quote(kept, safe="")


class RequestBuilder(BatchCutter[Encoded, Batch]):
    """Cuts what the sink reads into batches (cutting.py): every entry of a record in one."""

    content_type = "application/json"

    def __init__(self, writer: EntryWriter, compression: str, max_bytes: int, max_events: int,
                 on_encoded: Callable[[Encoded], None]):
        super().__init__(max_bytes, max_events)
        self.writer, self.compression, self.on_encoded = writer, compression, on_encoded

    def encode(self, block: StoredBlock) -> tuple[Encoded, list[int]]:
        written = self.writer.encoded(block)
        self.on_encoded(written)
        return written, list(itertools.accumulate(written.lengths))

    def new_batch(self, first_time: float) -> Batch:
        return Batch(first_time=first_time)

    def put(self, batch: Batch, made: Encoded, start: int, stop: int, size: int) -> None:
        chunk, places = made.items[start:stop], made.places[start:stop]
        if made.split:
            kept = [i for i in range(start, stop) if made.items[i] is not None]
            batch.split.update({len(batch.items) + at: made.split[i] for at, i in enumerate(kept) if i in made.split})
        if None in chunk:
            batch.unencodable += chunk.count(None)
            places = [place for place, item in zip(places, chunk, strict=True) if item is not None]
            chunk = [item for item in chunk if item is not None]
        batch.items += chunk  # type: ignore[arg-type]  # the Nones are gone
        batch.places += places
        batch.size += size

    def body(self, batch: Batch) -> bytes:
        """The request: the place most entries share given once for all (the API's defaults for
        logName and resource), each other entry with its own."""
        places, items, split = batch.places, batch.items, batch.split
        if not places:
            return b'{"entries":[]}'
        default = places[0] if places.count(places[0]) == len(places) else \
            collections.Counter(places).most_common(1)[0][0]
        if not split and places.count(default) == len(places):
            entries = b"{" + b",{".join(items) if items else b""
        else:
            entries = b",".join([item if index in split else b"{" + item if place is default else
                                 b"".join((b"{", place, b",", item))
                                 for index, (place, item) in enumerate(zip(places, items, strict=True))])
        body = b"".join((b"{", default, b',"entries":[', entries, b'],"partialSuccess":true}'))
        return gzip.compress(body, GZIP_LEVEL, mtime=0) if self.compression == "gzip" else body
