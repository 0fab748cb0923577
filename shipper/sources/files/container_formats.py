"""Container runtime log lines: CRI (containerd, CRI-O) and docker json-file, detected per file.

CRI:    `2026-11-22T10:15:00.123456789Z stdout F text`; a `P` line continues in the next line of
        the same stream. Fragments are joined by content, never cut by a timer.
docker: `{"log":"text\\n","stream":"stdout","time":"..."}`; a `log` without the final newline
        (docker splits at 16 KiB) continues in the next line of the same stream.
A joined record longer than `max_line` bytes is shipped in pieces of that size (counted as splits).
A joined record takes the time of the fragment that completes it (or of the last one held), so a
line written over hours is not refused as too old when it finally ends.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from shipper.kernels import cri
from shipper.record import Record
from shipper.text import cut_utf8, utf8_size
from shipper.times import parse_rfc3339_exact, utc_second_ns

STREAM_FIELDS = {"stdout": {"stream": "stdout"}, "stderr": {"stream": "stderr"}}
_WHOLE_LINE = {f"Z {stream} F ": fields for stream, fields in STREAM_FIELDS.items()}  # CRI line[29:40]
MALFORMED_CRI = {"stream": "unknown", "parse_error": "not a CRI log line"}
WHOLE_LINES = cri.whole_lines if cri is not None else None  # the compiled path of CriDecoder.decode
MALFORMED_DOCKER = {"stream": "unknown", "parse_error": "not a docker json-file line"}


class _Partials:
    """Fragments of one record per stream, waiting for the fragment that completes it."""

    def __init__(self, max_line: int):
        self.max_line = max_line
        # stream -> [timestamp_ns of the last fragment, [texts], size, monotonic time of the first fragment]
        self.held: dict[str, list[Any]] = {}
        self.split = 0

    def add(self, stream: str, timestamp_ns: int, text: str, out: list[Record]) -> None:
        held = self.held.get(stream)
        if held is None:
            self.held[stream] = held = [timestamp_ns, [], 0, time.monotonic()]
        held[0] = timestamp_ns
        held[1].append(text)
        held[2] += utf8_size(text)
        if held[2] >= self.max_line:
            joined = "".join(held[1])
            while utf8_size(joined) >= self.max_line:
                piece, joined = cut_utf8(joined, self.max_line)
                out.append((held[0], piece, STREAM_FIELDS[stream]))
                self.split += 1
            held[1], held[2] = ([joined], utf8_size(joined)) if joined else ([], 0)

    def complete(self, stream: str, timestamp_ns: int, text: str) -> Record:
        held = self.held.pop(stream, None)
        if held is None:
            return (timestamp_ns, text, STREAM_FIELDS[stream])
        return (timestamp_ns, "".join(held[1]) + text, STREAM_FIELDS[stream])

    @property
    def pending_bytes(self) -> int:
        return sum(h[2] for h in self.held.values())

    @property
    def pending_since(self) -> float | None:
        return min((h[3] for h in self.held.values()), default=None)

    def carry(self) -> dict[str, list[Any]] | None:
        return {stream: [h[0], "".join(h[1])] for stream, h in self.held.items()} or None

    def restore(self, carry: dict[str, list[Any]] | None) -> None:
        now = time.monotonic()
        self.held = {stream: [ts, [text], utf8_size(text), now] for stream, (ts, text) in (carry or {}).items()}

    def flush(self) -> list[Record]:
        records: list[Record] = [(h[0], "".join(h[1]), STREAM_FIELDS[s]) for s, h in self.held.items()]
        self.held = {}
        return records


class CriDecoder:
    untimed = 0  # the runtime's own time is on every line

    def __init__(self, max_line: int, compiled: bool = True):
        self.partials = _Partials(max_line)
        self.malformed = 0
        self._second, self._second_ns = "", 0  # the last distinct second parsed
        self._compiled = WHOLE_LINES if compiled else None

    @property
    def split(self) -> int:
        return self.partials.split

    def decode(self, texts: list[str], now_ns: int) -> list[Record]:
        out: list[Record] = []
        self.malformed = 0
        count = len(texts)
        index = 0
        while index < count:
            if not self.partials.held:
                index = self._whole(texts, index, count, out)
                if index >= count:
                    break
            self._decode_line(texts[index], now_ns, out)
            index += 1
        return out

    def _whole(self, texts: list[str], index: int, count: int, out: list[Record]) -> int:
        """Whole lines from `index` on: in the kernel where it is compiled, with the reference taking
        each line the kernel leaves; returns the index of the first line neither takes."""
        if self._compiled is None:
            return self._whole_lines(texts, index, count, out)
        while index < count:
            index = self._compiled(texts, index, out, STREAM_FIELDS["stdout"], STREAM_FIELDS["stderr"])
            taken = self._whole_lines(texts, index, min(count, index + 1), out)
            if taken == index:
                break
            index = taken
        return index

    def _whole_lines(self, texts: list[str], start: int, stop: int, out: list[Record]) -> int:
        """The reference of the kernel (_cri.whole_lines): from `start`, each whole line (F) with a
        30-character UTC stamp, stamped from its text (each distinct second parsed once); returns the
        index of the first line it does not take."""
        append = out.append
        second, second_ns = self._second, self._second_ns
        index = start
        try:
            for index in range(start, stop):
                text = texts[index]
                fields = _WHOLE_LINE.get(text[29:40])
                head = text[:29]
                if fields is None or text[19] != "." or not head.isascii() or " " in head or not head[20:].isdigit():
                    return index
                if head[:19] != second:
                    second_ns = utc_second_ns(head[:19])
                    second = head[:19]
                append((second_ns + int(head[20:]), text[40:], fields))
            return stop
        except ValueError:  # not a stamp after all: the general path says so
            return index
        finally:
            self._second, self._second_ns = second, second_ns

    def _decode_line(self, text: str, now_ns: int, out: list[Record]) -> None:
        partials = self.partials
        fields = text.split(" ", 3)
        try:
            stamp, stream, tag = fields[0], fields[1], fields[2]
            if stream not in STREAM_FIELDS or tag not in ("F", "P"):
                raise ValueError(text)
            timestamp = parse_rfc3339_exact(stamp)
        except (IndexError, ValueError):
            out.append((now_ns, text, MALFORMED_CRI))
            self.malformed += 1
            return
        message = fields[3] if len(fields) == 4 else ""
        if tag == "P":
            partials.add(stream, timestamp, message, out)
        elif partials.held:
            out.append(partials.complete(stream, timestamp, message))
        else:
            out.append((timestamp, message, STREAM_FIELDS[stream]))

    @property
    def pending_bytes(self) -> int:
        return self.partials.pending_bytes

    @property
    def pending_since(self) -> float | None:
        return self.partials.pending_since

    def carry(self) -> Any:
        return self.partials.carry()

    def restore(self, carry: Any) -> None:
        self.partials.restore(carry)

    def flush(self) -> list[Record]:
        return self.partials.flush()


class DockerDecoder(CriDecoder):
    def decode(self, texts: list[str], now_ns: int) -> list[Record]:
        out: list[Record] = []
        self.malformed = 0
        partials = self.partials
        for text in texts:
            try:
                entry = orjson.loads(text)
                message, stream = entry["log"], entry["stream"]
                timestamp = parse_rfc3339_exact(entry["time"])
                if stream not in STREAM_FIELDS or not isinstance(message, str):
                    raise ValueError(text)
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                out.append((now_ns, text, MALFORMED_DOCKER))
                self.malformed += 1
                continue
            if message.endswith("\n"):
                out.append(partials.complete(stream, timestamp, message[:-1]))
            else:
                partials.add(stream, timestamp, message, out)
        return out


class ContainerDecoder:
    """Picks CRI or docker from a file's first line, then delegates to it."""

    untimed = 0

    def __init__(self, max_line: int):
        self.max_line = max_line
        self.format: str | None = None
        self.inner: CriDecoder | None = None
        self.malformed = 0

    @property
    def split(self) -> int:
        return self.inner.split if self.inner else 0

    def decode(self, texts: list[str], now_ns: int) -> list[Record]:
        if self.inner is None:
            if not texts:
                return []
            self._choose("docker" if texts[0].startswith("{") else "cri")
        assert self.inner is not None  # chosen just above
        records = self.inner.decode(texts, now_ns)
        self.malformed = self.inner.malformed
        return records

    def _choose(self, name: str) -> CriDecoder:
        self.format = name
        self.inner = (DockerDecoder if name == "docker" else CriDecoder)(self.max_line)
        return self.inner

    @property
    def pending_bytes(self) -> int:
        return self.inner.pending_bytes if self.inner else 0

    @property
    def pending_since(self) -> float | None:
        return self.inner.pending_since if self.inner else None

    def carry(self) -> Any:
        if self.inner is None:
            return None
        held = self.inner.carry()
        return {"format": self.format, "partial": held} if held else None

    def restore(self, carry: Any) -> None:
        if carry:
            self._choose(carry["format"]).restore(carry["partial"])

    def flush(self) -> list[Record]:
        return self.inner.flush() if self.inner else []
