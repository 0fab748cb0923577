"""`filter` and `route`: conditions decide, counts are exact."""

from __future__ import annotations

from tests.transforms.helpers import block, make, metric, run

RECORDS = [("GET /health 200", {"status": 200, "level": "info"}), ("GET /a 500", {"status": 500, "level": "error"}),
           ("GET /b 404", {"status": 404, "level": "warn"}), ("no status", None)]


def messages(blocks) -> list[str]:
    return [record[1] for b in blocks for record in b.records]


def test_filter_keeps_included_records_minus_excluded_ones_and_counts_the_rest():
    keep = make("filter", "f-exact", include={"field": "status", "exists": True},
                exclude={"any": [{"field": "message", "regex": "health"}, {"field": "status", "equals": 404}]})
    before = metric("shipper_events_discarded_total", component_kind="transform", component_id="f-exact",
                    component_type="filter", reason="filtered")

    out = run(keep, block(*RECORDS))["f-exact"]

    assert messages(out) == ["GET /a 500"]
    assert metric("shipper_events_discarded_total", component_kind="transform", component_id="f-exact",
                  component_type="filter", reason="filtered") == before + 3


def test_conditions_read_the_agent_metadata_and_compose():
    keep = make("filter", include={"all": [{"field": "kubernetes.namespace", "regex": "^shop$"},
                                           {"not": {"field": "level", "equals": "info"}}]})

    shop = run(keep, block(*RECORDS, common={"kubernetes": {"namespace": "shop"}}))["t"]
    other = run(keep, block(*RECORDS, common={"kubernetes": {"namespace": "billing"}}))["t"]

    assert messages(shop) == ["GET /a 500", "GET /b 404", "no status"]
    assert other == []


def test_a_regex_tests_numbers_by_their_text():
    keep = make("filter", include={"field": "status", "regex": "^5"})

    assert messages(run(keep, block(*RECORDS))["t"]) == ["GET /a 500"]


def test_a_record_goes_to_every_route_it_matches_and_otherwise_to_unmatched():
    route = make("route", "r", routes={"errors": {"field": "status", "regex": "^[45]"},
                                       "server": {"field": "status", "regex": "^5"}})

    out = run(route, block(*RECORDS))

    assert {name: messages(blocks) for name, blocks in out.items()} == {
        "r.errors": ["GET /a 500", "GET /b 404"], "r.server": ["GET /a 500"],
        "r._unmatched": ["GET /health 200", "no status"]}
    assert all(b.stream == name for name, blocks in out.items() for b in blocks)
