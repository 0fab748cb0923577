"""`fields`: the operations of FieldsOptions, in its order, on a copy of each record's fields.

Records of a block may share one fields mapping, and nested maps may be shared further down: every
change copies the maps on its path first (copy on write). What exists only in the block's common
fields (Kubernetes metadata, the file) is removed from a copy of the common mapping, once per block.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from shipper.record import FIELDS, MESSAGE, RESERVED, TIMESTAMP, Block, Record, dig, lookup, set_aside_reserved
from shipper.templates import MissingField, Template, field_path
from shipper.transforms.base import SingleOutput
from shipper.transforms.fields.config import FieldsOptions

Path = tuple[str, ...]
Value = Callable[[Mapping[str, Any], Record], Any]  # (common, record) -> the value to write; None: nothing


class Fields(SingleOutput):
    def __init__(self, transform_id: str, options: FieldsOptions):
        super().__init__(transform_id, options)
        self.copies = [(_path(a), _path(b)) for a, b in options.copy_.items()]
        self.renames = [(_path(a), _path(b)) for a, b in options.rename.items()]
        self.lifts = [_path(name) for name in options.lift]
        self.adds = [(_path(name), _value(value)) for name, value in options.add.items()]
        self.sets = [(_path(name), _value(value)) for name, value in options.set.items()]
        self.removes = [_path(name) for name in options.remove]

    def apply(self, block: Block) -> Block:
        common = block.common
        from_common: set[Path] = set()  # paths taken out of the block's common fields
        records = [self._record(common, record, from_common) for record in block.records]
        if from_common:
            common = _without(common, from_common)
        return Block(self.id, common, records)

    def _record(self, common: Mapping[str, Any], record: Record, from_common: set[Path]) -> Record:
        fields: dict[str, Any] = dict(record[FIELDS]) if record[FIELDS] else {}
        message = record[MESSAGE]
        for source, target in self.copies:
            value = lookup(common, record, source)
            if value is not None:
                message = _write(fields, target, value, message)
        for source, target in self.renames:
            value = _take(fields, source, common, from_common)
            if value is not None:
                message = _write(fields, target, value, message)
        for source in self.lifts:
            value = _take(fields, source, common, from_common)
            if isinstance(value, Mapping):
                fields.update(set_aside_reserved(dict(value)))
        for target, make in self.adds:
            if (target == ("message",) and message) or (target != ("message",) and dig(fields, target) is not None):
                continue
            message = _write(fields, target, make(common, (record[TIMESTAMP], message, fields)), message)
        for target, make in self.sets:
            message = _write(fields, target, make(common, (record[TIMESTAMP], message, fields)), message)
        for source in self.removes:
            _take(fields, source, common, from_common)
        return record[TIMESTAMP], message, fields or None


def _path(name: str) -> Path:
    path = field_path(name)
    assert path is not None  # checked by FieldsOptions
    return path


def _value(value: Any) -> Value:
    if not isinstance(value, str):
        return lambda common, record: value
    template = Template(value)
    if template.is_constant:
        return lambda common, record: value

    def render(common: Mapping[str, Any], record: Record) -> Any:
        try:
            return template.render(lambda path: lookup(common, record, path))
        except MissingField:
            return None

    return render


def _write(fields: dict[str, Any], path: Path, value: Any, message: str) -> str:
    """Set `path` in `fields` (copying the maps on the way); the record's text when path is `message`."""
    if value is None:
        return message
    if path == ("message",):
        return value if isinstance(value, str) else str(value)
    node = fields
    for key in path[:-1]:
        child = node.get(key)
        child = dict(child) if isinstance(child, Mapping) else {}
        node[key] = child
        node = child
    node[path[-1]] = value
    return message


def _take(fields: dict[str, Any], path: Path, common: Mapping[str, Any], from_common: set[Path]) -> Any:
    """Remove `path` and return its value: from the record's own fields, or else (noted in
    `from_common`, removed from the block's common fields afterwards) from the common ones."""
    if path[0] not in RESERVED:
        value = _pop(fields, path)
        if value is not None:
            return value
    value = dig(common, path)
    if value is not None:
        from_common.add(path)
    return value


def _pop(fields: dict[str, Any], path: Path) -> Any:
    node = fields
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, Mapping):
            return None
        child = dict(child)
        node[key] = child
        node = child
    return node.pop(path[-1], None)


def _without(common: Mapping[str, Any], paths: set[Path]) -> dict[str, Any]:
    copied = dict(common)
    for path in paths:
        _pop(copied, path)
    return copied
