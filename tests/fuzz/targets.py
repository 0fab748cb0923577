"""Fuzz targets: what a hostile client or pod can hand each decoder, and the promise each keeps.

Each target takes bytes and raises AssertionError (or any exception the promise does not allow) when
a promise breaks. `python -m tests.fuzz.run TARGET` runs one under atheris (coverage-guided, from the
committed corpus in tests/fuzz/corpus/TARGET); tests/fuzz/test_corpus.py replays every corpus file
as a plain test, so a crash the fuzzer finds, saved into the corpus, stays a test.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import msgpack
import orjson

from shipper import kernels
from shipper.buffer import columns
from shipper.buffer.spool import StoredBlock
from shipper.parsers import PRESETS, regex_parser
from shipper.record import Block
from shipper.sinks.cloudwatch.batch import one_event_each
from shipper.sinks.encoding import json_objects
from shipper.sinks.opentelemetry import protobuf as otlp_protobuf
from shipper.sinks.syslog.config import SyslogOptions
from shipper.sinks.syslog.encoder import Encoder
from shipper.sources.files.container_formats import ContainerDecoder, CriDecoder
from shipper.sources.forward import protocol
from shipper.sources.forward.framing import Framing
from shipper.sources.forward.records import packed_records, records_of
from shipper.sources.journald.config import JournaldOptions
from shipper.sources.journald.fields import RecordMaker
from shipper.sources.journald.reader import CompiledJournal, Journal
from shipper.transforms.parse.config import ParseOptions
from shipper.transforms.parse.transform import Parse
from shipper.transforms.redact.config import RedactOptions
from shipper.transforms.redact.transform import Redact

NOW = 1_800_000_000_000_000_000
MAX_SIZE = 1 << 20
MAX_ENTRIES = 10_000


def forward(data: bytes) -> None:
    """Any bytes on a forward connection: messages or ProtocolError, never another exception, and
    every entry either a record or counted."""
    stream = protocol.unpacker(MAX_SIZE, MAX_ENTRIES)
    try:
        stream.feed(data)
    except msgpack.BufferFull:
        return
    try:
        for message in stream:
            decoded = protocol.decode(message, NOW, MAX_SIZE, MAX_ENTRIES)
            anomalies: Counter[str] = Counter()
            records = records_of(decoded, ["log", "message"], anomalies, {}, 16)
            dropped = anomalies["too_deep"] + anomalies["malformed_entry"]
            assert len(records) + dropped == len(decoded.entries)
            assert all(isinstance(text, str) for _, text, _ in records)
    except protocol.ProtocolError:
        return
    except (msgpack.UnpackException, ValueError, TypeError):  # framing errors: the server's ProtocolError
        return


PARSERS = {**PRESETS, "regex": regex_parser(r"^(?P<level>\w+)\s*[:|] (?P<msg>.*?)(?: (?P<tail>\C+))?$")}
PARSE_WITH_TIMES = [
    Parse("fuzz", ParseOptions.model_validate({"type": "parse", "inputs": ["src"], "format": fmt, "time_key": "time",
                                                "time_format": time_format}))
    for fmt, time_format in (("json", "rfc3339"), ("logfmt", "%d/%b/%Y:%H:%M:%S %z"), ("json", "epoch_ms"),
                             ("syslog_rfc3164", "rfc3339"), ("klog", "rfc3339"))]


def parse(data: bytes) -> None:
    """Every format on any text: a mapping or None, never an exception; the parse transform with a
    time key of every kind: every record out, never an exception."""
    text = data.decode("utf-8", "surrogateescape")
    for name, parser in PARSERS.items():
        parsed = parser(text)
        assert parsed is None or isinstance(parsed, dict), name
    for transform in PARSE_WITH_TIMES:
        (out,) = transform.process([Block("src", {}, [(1, text, None), (2, text, {"time": text})])])["fuzz"]
        assert len(out.records) == 2


REDACT = Redact("fuzz", RedactOptions.model_validate({"type": "redact", "inputs": ["src"]}))
PLANTED = "Zq9xK2pW7v"


def redact(data: bytes) -> None:
    """Any text around a planted secret, in the message and in fields: never an exception, and the
    secret never survives."""
    text = data.decode("utf-8", "surrogateescape")
    if PLANTED in text:
        return
    records = [(1, f"{text} password={PLANTED}", {"t": text, "api_key": PLANTED, text[:8]: {"token": PLANTED}}),
               (2, text, None)]
    (out,) = REDACT.run([Block("src", {"host": text}, records)])["fuzz"]
    assert PLANTED not in repr(out.records) and len(out.records) == 2


def container(data: bytes) -> None:
    """CRI and docker json-file lines, in any order and split anywhere: records, never an exception."""
    decoder = ContainerDecoder(4096)
    texts = data.decode("utf-8", "surrogateescape").split("\n")
    half = len(texts) // 2
    records = decoder.decode(texts[:half], time.time_ns()) + decoder.decode(texts[half:], time.time_ns())
    records += decoder.flush()
    assert all(isinstance(record[1], str) for record in records)


def cri_kernel(data: bytes) -> None:
    """The compiled CRI kernel (built with AddressSanitizer by scripts/fuzz.sh when SHIPPER_ASAN_KERNELS
    names its directory) on any lines: exactly the reference's records, and no memory error."""
    kernel = asan_kernel("_cri") or kernels.cri
    if kernel is None:
        return
    texts = data.decode("utf-8", "surrogateescape").split("\n")
    compiled, reference = CriDecoder(64, compiled=True), CriDecoder(64, compiled=False)
    compiled._compiled = kernel.whole_lines
    for block in (texts[: len(texts) // 2], texts[len(texts) // 2:]):
        assert compiled.decode(block, NOW) == reference.decode(block, NOW)
        assert compiled.carry() == reference.carry()


SYSLOG_MAPPINGS = [None, {"stream": "stderr"}, {"app": "zürich"}] + [{"app": f"app-{n}"} for n in range(8)]


def syslog_kernel(data: bytes) -> None:
    """The compiled syslog kernel (built with AddressSanitizer as `cri_kernel` is) on any block: the first
    bytes choose the framing, the size limit, `start` and how many heads; each record (split at \x1e)
    is an 8-byte signed time, a head number and a message of any code points. Exactly the reference's
    bytes, and no memory error."""
    kernel = asan_kernel("_syslog") or kernels.syslog
    if kernel is None or len(data) < 3:
        return
    options = SyslogOptions.model_validate({
        "type": "syslog", "inputs": ["app"], "address": "localhost:6514", "app_name": "{app}",
        "framing": "newline" if data[0] & 1 else "octet_counting", "newlines": "split" if data[0] & 2 else "escape",
        "max_message_size": 480 + data[1] * 4, "structured_data": {"meta@1": {"stream": "{stream}"}}})
    compiled, reference = Encoder(options, compiled=True), Encoder(options, compiled=False)
    compiled.kernel = kernel
    times, messages, fields = [], [], []
    for record in data[3:].split(b"\x1e"):
        head, text = record[:9].ljust(9, b"\0"), record[9:]
        times.append(NOW + int.from_bytes(head[:8], "little", signed=True) if head[0] & 1 else
                     int.from_bytes(head[:8], "little", signed=True))
        fields.append(SYSLOG_MAPPINGS[head[8] % len(SYSLOG_MAPPINGS)])
        messages.append(text.decode("utf-8", "surrogateescape"))
    block = StoredBlock(1, "app", {"host": "node-1"}, times, messages, fields, min(data[2], len(messages)))
    assert compiled.encode([block]) == reference.encode([block])


def cloudwatch_kernel(data: bytes) -> None:
    """The compiled CloudWatch kernel (built with AddressSanitizer as `cri_kernel` is) on any block: the
    first byte sets the event size limit; each record (split at \x1e) is an 8-byte signed time and a
    message of any code points. Exactly the reference's events, and no memory error."""
    kernel = asan_kernel("_cloudwatch") or kernels.cloudwatch
    if kernel is None or not data:
        return
    max_event_size = 26 + data[0]
    records = [record.ljust(8, b"\0") for record in data[1:].split(b"\x1e")] if len(data) > 1 else []
    timestamps = [int.from_bytes(record[:8], "little", signed=True) for record in records]
    messages = [record[8:].decode("utf-8", "surrogateescape") for record in records]
    made = kernel.events(timestamps, messages, max_event_size)
    assert made is not NotImplemented
    assert made == one_event_each(timestamps, messages, max_event_size)


NDJSON_MAPPINGS = [None, {}, {"stream": "stderr"}, {"app": "z\u00fcrich\n", "n": 1, "x": [None, 1.5]}]


def ndjson_kernel(data: bytes) -> None:
    """The compiled ndjson kernel (built with AddressSanitizer as `cri_kernel` is) on any block: the
    first byte picks `start`; each record (split at \x1e) is an 8-byte signed time, a byte picking its
    fields and a message of any code points. Exactly the reference's JSON objects, and no memory error."""
    kernel = asan_kernel("_ndjson") or kernels.ndjson
    if kernel is None or not data:
        return
    times, messages, fields = [], [], []
    for record in data[1:].split(b"\x1e"):
        head, text = record[:9].ljust(9, b"\0"), record[9:]
        times.append(int.from_bytes(head[:8], "little", signed=True) if head[8] & 128 else
                     NOW + int.from_bytes(head[:4], "little"))
        fields.append(NDJSON_MAPPINGS[head[8] % len(NDJSON_MAPPINGS)])
        messages.append(text.decode("utf-8", "surrogateescape"))
    block = StoredBlock(1, "app", {"host": "node-1"}, times, messages, fields, min(data[0], len(messages)))
    saved, kernels.ndjson = kernels.ndjson, None
    try:
        expected = json_objects(block)
    finally:
        kernels.ndjson = kernel
    try:
        made = json_objects(block)
    finally:
        kernels.ndjson = saved
    assert made == expected


def _connection(reads: list[bytes], compiled: bool) -> tuple[list[Any], int, str | None]:
    """Each record (with each field's type) and ack a connection's reads come to, the bytes the messages
    took, and the refusal that ended it (tests/sources/test_forward_framing.py)."""
    connection = Framing(MAX_SIZE, 100, ["log", "message"], compiled=compiled, clock=lambda: NOW)
    events: list[Any] = []
    taken = 0
    try:
        for read in reads:
            for message, size in connection.messages(read):
                anomalies: Counter[str] = Counter()
                events += [(t, text, [(k, type(v), repr(v)) for k, v in fields.items()])
                           for t, text, fields in records_of(message, ["log", "message"], anomalies, {})]
                events += sorted((anomalies + message.anomalies).items())
                events += [("ack", message.chunk)] if message.chunk is not None else []
                taken += size
    except msgpack.BufferFull:
        return events, taken, "message_too_large"
    except protocol.ProtocolError as error:
        return events, taken, error.kind
    return events, taken, None


FORWARD_KEYS = [("log", "message"), ("message",), ("log",), ()]


def forward_kernel(data: bytes) -> None:
    """The compiled forward kernel (built with AddressSanitizer as `cri_kernel` is) on any bytes: with the
    first byte's top bit, as a connection's stream of messages, read in two parts cut where the first
    byte says, exactly what message-by-message decoding makes of it; else as a packed stream, the first
    byte picking the message keys and max_entries, where the kernel takes it exactly the records the
    reference makes (types of every field included). And no memory error."""
    kernel = asan_kernel("_forward") or kernels.forward
    if kernel is None or not data:
        return
    if data[0] & 0x80:
        saved, kernels.forward = kernels.forward, kernel
        try:
            cut = (data[0] & 0x7F) * len(data) // 128
            reads = [data[1:cut + 1], data[cut + 1:]]
            assert _connection(reads, compiled=True) == _connection(reads, compiled=False)
        finally:
            kernels.forward = saved
        return
    keys, max_entries, packed = FORWARD_KEYS[data[0] % 4], (1, 3, 10_000)[(data[0] >> 2) % 3], data[1:]
    saved, kernels.forward = kernels.forward, kernel
    try:
        made = packed_records("app", packed, max_entries, keys)
    finally:
        kernels.forward = saved
    if made is None:
        return
    message = protocol.Message("app", [], None)
    protocol.add_packed_entries(message, packed, NOW, MAX_SIZE, max_entries)
    anomalies: Counter[str] = Counter()
    expected = records_of(message, list(keys), anomalies, {})
    assert not anomalies and not message.anomalies
    assert [(t, text, [(k, type(v), repr(v)) for k, v in fields.items()]) for t, text, fields in made] == \
        [(t, text, [(k, type(v), repr(v)) for k, v in fields.items()]) for t, text, fields in expected]


PARSE_FIELDS = [None, {}, {"stream": "stdout"}, {"stream": "stderr", "a": [1, {"b": None}]}, {"time": 5}]
PARSE_OPTIONS: dict[str, list[dict[str, str]]] = {
    "json": [{}, {"target": "t"}, {"time_key": "time"}, {"time_key": "a", "time_format": "epoch"}],
    "nginx_combined": [{}, {"target": "t"}, {"time_key": "time_local", "time_format": "%d/%b/%Y:%H:%M:%S %z"},
                       {"time_key": "status", "time_format": "epoch"}],
    "logfmt": [{}, {"target": "t"}, {"time_key": "time"}, {"time_key": "a", "time_format": "epoch"}]}


def parse_kernel(data: bytes) -> None:
    """The compiled parse kernels (built with AddressSanitizer as `cri_kernel` is) on any block: the
    first byte picks the format (json, nginx_combined or logfmt) and the options; records split at \x1e, each
    one's first byte picking its fields, the rest its message (any bytes, so lone surrogates too). The
    spool reads back exactly the reference's records, every fields text a kernel made is JSON, and no
    memory error."""
    kernel = asan_kernel("_parse") or kernels.parse
    if kernel is None or not data:
        return
    format = ("json", "nginx_combined", "logfmt")[(data[0] >> 6) % 3]
    options = PARSE_OPTIONS[format][data[0] % len(PARSE_OPTIONS[format])]
    transform = Parse("fuzz", ParseOptions.model_validate(
        {"type": "parse", "inputs": ["src"], "format": format, **options}))
    records = [(n, raw[1:].decode("utf-8", "surrogateescape"), PARSE_FIELDS[raw[0] % len(PARSE_FIELDS)])
               for n, raw in enumerate(data[1:].split(b"\x1e")) if raw]
    expected, unparsed, untimed = transform._parsed(Block("src", {}, records))
    assert transform.kernel_arguments is not None
    compiled, *arguments = transform.kernel_arguments
    made = getattr(kernel, compiled.__name__)(records, *arguments)
    again, more_unparsed, more_untimed = transform._parsed(Block("src", {}, [made[0][i] for i in made[3]]))
    for i, record in zip(made[3], again, strict=True):
        made[0][i] = record
    assert (made[1] + more_unparsed, made[2] + more_untimed) == (unparsed, untimed)
    assert all(type(fields) is not bytes or type(orjson.loads(fields)) is dict for _, _, fields in made[0])
    assert stored_form(made[0]) == stored_form(expected)


def stored_form(records: list[Any]) -> tuple[list[int], list[Any], list[bytes]]:
    stamps, texts, fields = columns.decode(columns.encode_total(records, 0)[0])
    return stamps, texts, [orjson.dumps(f, option=orjson.OPT_SORT_KEYS) for f in fields]  # see tests/kernels


JOURNAL_NAMES = ["MESSAGE", "_SYSTEMD_UNIT", "SYSLOG_IDENTIFIER", "_PID", "_HOSTNAME", "PRIORITY", "CONTAINER_NAME",
                 "X"]


def journal_kernel(data: bytes) -> None:
    """The compiled journal kernel (built with AddressSanitizer as `cri_kernel` is) on a journal of any
    entries (`write_journal_of`). Exactly the reference's records, invalid counts and cursors, and no
    memory error."""
    kernel = asan_kernel("_journal") or kernels.journal
    if kernel is None:
        return
    with tempfile.TemporaryDirectory() as directory:
        if write_journal_of(data, Path(directory)):
            journal_reads_alike(directory, kernel)


def write_journal_of(data: bytes, directory: Path) -> bool:
    """A journal in `directory` of the entries `data` makes: entries split at \x1e, fields at \x1f, each
    field's first byte naming it, the rest its value (any bytes), written by systemd-journal-remote;
    False when it refuses them."""
    from tests.journal import export_entry, write_journal
    entries = []
    for seq, raw in enumerate(data.split(b"\x1e")[:20]):
        fields: dict[str, str | bytes] = {}
        for field in raw.split(b"\x1f"):
            if field:
                fields[JOURNAL_NAMES[field[0] % len(JOURNAL_NAMES)]] = field[1:]
        entries.append(export_entry(seq, fields))
    try:
        write_journal(directory / "system.journal", entries)
    except subprocess.CalledProcessError:
        return False
    return True


def journal_reads_alike(directory: str, kernel: ModuleType) -> None:
    """The journal in `directory` read by `kernel` and by the reference: the same records, invalid
    counts and cursors, a few entries and then the rest."""
    options = JournaldOptions.model_validate({"type": "journald", "directory": directory, "read_from": "beginning"})
    reference, compiled = Journal(options), CompiledJournal(options)
    compiled.reader = kernel.Reader(path=directory)
    try:
        reference.seek(None)
        compiled.seek(None)
        reference_maker = RecordMaker(reference.convert, False)
        compiled_maker = RecordMaker(compiled.convert, False)
        for count in (3, 1000):
            entries_read, cursor = reference.read(count)
            made = [reference_maker.record(entry) for entry in entries_read]
            expected = ([record for record, _ in made], sum(bad for _, bad in made), cursor)
            assert compiled.read_records(count, compiled_maker) == expected
    finally:
        reference.close()
        compiled.close()


OTLP_PARTS = [b"", b"\x10\x11\x1a\x03err", b"\x32\x0c\x0a\x01k\x12\x07\x0a\x05value" * 3]


def otlp_kernel(data: bytes) -> None:
    """The compiled otlp kernel (built with AddressSanitizer as `cri_kernel` is) on any block: records
    split at \x1e, each an 8-byte signed time, a byte choosing its severity and attributes parts, and
    a message (its bytes as surrogate escapes where they are not UTF-8). Exactly the reference's
    records, or handed back where the reference refuses (a lone surrogate), and no memory error."""
    kernel = asan_kernel("_otlp") or kernels.otlp
    if kernel is None or not data:
        return
    times, messages, severities, attributes = [], [], [], []
    for record in data.split(b"\x1e"):
        head, text = record[:9].ljust(9, b"\0"), record[9:]
        times.append(int.from_bytes(head[:8], "little", signed=True))
        severities.append(OTLP_PARTS[head[8] % 3])
        attributes.append(OTLP_PARTS[head[8] // 3 % 3])
        messages.append(text.decode("utf-8", "surrogateescape"))
    made = kernel.log_records(times, NOW, messages, severities, attributes)
    saved, kernels.otlp = kernels.otlp, None
    try:
        if made is None:
            try:
                otlp_protobuf.log_records(times, NOW, messages, severities, attributes)
            except UnicodeEncodeError:
                return
            raise AssertionError("the kernel handed back a block the reference takes")
        assert made == otlp_protobuf.log_records(times, NOW, messages, severities, attributes)
    finally:
        kernels.otlp = saved


def asan_kernel(name: str) -> ModuleType | None:
    """The kernel `name` as built with AddressSanitizer into $SHIPPER_ASAN_KERNELS, if set."""
    directory = os.environ.get("SHIPPER_ASAN_KERNELS")
    if not directory:
        return None
    if name not in _ASAN:
        spec = importlib.util.spec_from_file_location(name, Path(directory) / f"{name}.so")
        assert spec is not None and spec.loader is not None, f"no {name}.so in {directory}"
        _ASAN[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(_ASAN[name])
    return _ASAN[name]


_ASAN: dict[str, ModuleType] = {}

TARGETS: dict[str, Callable[[bytes], None]] = {
    "forward": forward, "parse": parse, "redact": redact, "container": container, "cri_kernel": cri_kernel,
    "syslog_kernel": syslog_kernel, "cloudwatch_kernel": cloudwatch_kernel,
    "journal_kernel": journal_kernel, "parse_kernel": parse_kernel, "forward_kernel": forward_kernel,
    "ndjson_kernel": ndjson_kernel, "otlp_kernel": otlp_kernel}
