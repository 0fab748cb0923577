"""An object's key: the template's fields from its records, the time of its first record in UTC, and
a UUID that depends on its first spool position and this spool's identity alone; within S3's limits
whatever the records hold."""

from __future__ import annotations

import calendar
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shipper.buffer.spool import Position, StoredBlock
from shipper.sinks.s3.config import S3Options
from shipper.sinks.s3.key import MAX_KEY_BYTES, MISSING, ObjectKeys

NODE = uuid.UUID("12345678-1234-5678-1234-567812345678")
TEMPLATE = "logs/{kubernetes.namespace}/{kubernetes.pod_name}/%Y/%m/%d/%H/{uuid}.ndjson.gz"
AT = calendar.timegm((2026, 12, 7, 23, 59, 30)) * 10**9


def stored(common: dict, own: list[dict | None], start: int = 0) -> StoredBlock:
    return StoredBlock(7, "pods", common, [AT] * len(own), ["m"] * len(own), own, start)


def test_the_key_holds_the_fields_the_first_records_hour_in_utc_and_a_uuid_of_its_first_position():
    keys = ObjectKeys(TEMPLATE, "shipper", NODE)
    partition = keys.of_block(stored({"kubernetes": {"namespace": "prod", "pod_name": "web-1"}}, [None, None]))

    key = keys.key(partition, Position(7, 0), AT)

    assert partition == ("prod", "web-1")
    assert key == f"logs/prod/web-1/2026/12/07/23/{uuid.uuid5(NODE, '7:0')}.ndjson.gz"
    assert keys.key(partition, Position(7, 0), AT + 10**12) != key  # an hour later: another key
    assert ObjectKeys(TEMPLATE, "shipper", uuid.uuid4()).key(partition, Position(7, 0), AT) != key  # another node


def test_records_that_name_a_field_of_their_own_are_partitioned_one_by_one_and_a_missing_field_is_counted():
    keys = ObjectKeys("{kubernetes.namespace}/{app}/{uuid}", "shipper", NODE)
    block = stored({"kubernetes": {"namespace": "prod"}}, [{"app": "a"}, {"app": "b"}, None], start=1)

    assert keys.of_block(block) == [("prod", "b"), ("prod", MISSING)]
    assert keys.fallbacks == 1


def test_templates_name_fields_in_the_sinks_layout():
    keys = ObjectKeys("{kubernetes.namespace_name}/{uuid}", "fluent_bit", NODE)

    assert keys.of_block(stored({"kubernetes": {"namespace": "prod"}}, [None])) == ("prod",)


@given(values=st.lists(st.text(), min_size=2, max_size=2), block=st.integers(0, 2**40), index=st.integers(0, 10**6))
def test_any_field_values_give_a_valid_utf8_key_within_s3s_limit_holding_the_uuid_and_no_control_character(
        values, block, index):
    keys = ObjectKeys(TEMPLATE, "shipper", NODE)
    partition = keys.of_block(stored({"kubernetes": {"namespace": values[0], "pod_name": values[1]}}, [None]))

    key = keys.key(partition, Position(block, index), AT)

    assert len(key.encode("utf-8")) <= MAX_KEY_BYTES
    assert str(uuid.uuid5(NODE, f"{block}:{index}")) in key
    assert not any(ord(char) < 0x20 or ord(char) == 0x7F for char in key)


def options(**changes) -> S3Options:
    return S3Options.model_validate({"type": "s3", "inputs": ["app"], "bucket": "node-logs", **changes})


@pytest.mark.parametrize(("changes", "reason"), [
    ({"key": "{kubernetes.namespace}/%Y/{host}.gz"}, "must hold {uuid}"),
    ({"key": "/{uuid}"}, "must not start with '/'"),
    ({"bucket": "Node_Logs"}, "is not a bucket name"),
    ({"kms_key_id": "alias/logs"}, "kms_key_id needs server_side_encryption: aws:kms"),
    ({"tags": {f"t{n}": "v" for n in range(11)}}, "S3 takes at most 10"),
    ({"tags": {"team": "a&b"}}, "tag 'team'"),
    ({"multipart_part_size": "1MiB"}, "greater than or equal to 5242880"),
], ids=["no-uuid", "leading-slash", "bucket", "kms-without-sse", "too-many-tags", "tag-characters", "part-size"])
def test_options_s3_would_refuse_or_that_would_lose_objects_are_refused_with_the_reason(changes, reason):
    with pytest.raises(ValidationError) as refused:
        options(**changes)

    assert reason in str(refused.value)


def test_the_defaults_partition_by_namespace_and_hour_in_gzip_ndjson_objects():
    defaults = options()

    assert (defaults.key, defaults.encoding, defaults.compression) == (
        "{kubernetes.namespace}/%Y/%m/%d/%H/{uuid}.ndjson.gz", "ndjson", "gzip")
    assert [template.fields for template in defaults.templates().values()] == [[("kubernetes", "namespace")]]
