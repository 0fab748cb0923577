"""The spool's parked area: what a sink sets aside for a refused stream waits there in order,
bounded per sink (the oldest discarded and counted), survives a restart, and counts only once the
sink's cursor has passed it."""

from __future__ import annotations

from shipper.buffer.spool import Position, Spool

MAX = 10 * 1024 * 1024


def opened(tmp_path) -> Spool:
    spool = Spool.open(tmp_path, max_size=MAX)
    spool.attach_sinks({"cw": ["app"], "other": ["app"]})
    return spool


def items(*numbers: int) -> list[dict]:
    return [{"timestamp": n, "message": f"event {n}"} for n in numbers]


def test_parked_rows_come_back_oldest_first_per_name_and_survive_a_restart(tmp_path):
    spool = opened(tmp_path)
    spool.parked_area.park("cw", "g\ta", "refused", items(1, 2), [(1, 0), (1, 1)], MAX)
    spool.parked_area.park("cw", "g\tb", "refused", items(3), [(1, 2)], MAX)
    spool.parked_area.park("cw", "g\ta", "refused", items(4), [(2, 0)], MAX)
    spool.close()

    spool = opened(tmp_path)
    first = spool.parked_area.next("cw", "g\ta")
    spool.parked_area.unpark("cw", first.id)
    second = spool.parked_area.next("cw", "g\ta")

    assert (first.items, first.places) == (items(1, 2), [(1, 0), (1, 1)])
    assert second.items == items(4)
    assert spool.parked_area.next("other", "g\ta") is None
    assert {name: s.count for name, s in spool.parked_area.summary("cw").items()} == {"g\ta": 1, "g\tb": 1}
    spool.close()


def test_over_the_bound_the_oldest_parked_rows_of_the_sink_are_discarded_and_counted(tmp_path):
    spool = opened(tmp_path)
    one_row = len(b'[{"timestamp":1,"message":"event 1"},{"timestamp":2,"message":"event 2"}]')
    spool.parked_area.park("cw", "g\ta", "refused", items(1, 2), [(1, 0), (1, 1)], 2 * one_row)
    spool.parked_area.park("cw", "g\tb", "refused", items(3, 4), [(1, 2), (1, 3)], 2 * one_row)

    discarded = spool.parked_area.park("cw", "g\ta", "refused", items(5, 6), [(1, 4), (1, 5)], 2 * one_row)

    assert discarded == 2
    assert spool.parked_area.next("cw", "g\ta").items == items(5, 6)
    assert spool.parked_area.next("cw", "g\tb").items == items(3, 4)
    spool.close()


def test_items_the_cursor_has_not_passed_are_dropped_at_start_so_they_are_read_and_parked_once(tmp_path):
    spool = opened(tmp_path)
    spool.parked_area.park("cw", "g\ta", "refused", items(1, 2, 3), [(1, 8), (1, 9), (2, 0)], MAX)
    spool.parked_area.park("cw", "g\ta", "refused", items(4), [(2, 1)], MAX)
    spool.ack("cw", Position(1, 10))  # a crash came before the ack of block 2's records

    dropped = spool.parked_area.trim("cw")

    assert dropped == 2
    assert spool.parked_area.next("cw", "g\ta").items == items(1, 2)
    assert spool.parked_area.summary("cw")["g\ta"].count == 2
    spool.close()


def test_parked_rows_of_a_sink_no_longer_configured_are_dropped(tmp_path):
    spool = opened(tmp_path)
    spool.parked_area.park("other", "g\ta", "refused", items(1), [(1, 0)], MAX)

    spool.attach_sinks({"cw": ["app"]})

    assert spool.parked_area.summary("other") == {}
    spool.close()


def test_a_sinks_state_rows_can_be_forgotten_and_parked_rows_listed_by_id(tmp_path):
    spool = opened(tmp_path)
    spool.parked_area.park("cw", "g\ta", "refused", items(1), [(1, 0)], MAX)
    spool.save_sink_state("cw", "parked-sending:99", b"")
    spool.save_sink_state("cw", "kept", b"x")

    spool.forget_sink_state("cw", ["parked-sending:99"])

    assert spool.sink_state("cw") == {"kept": b"x"}
    assert spool.parked_area.ids("cw") == {spool.parked_area.next("cw", "g\ta").id}
    spool.close()
