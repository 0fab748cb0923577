"""The tailer against a model of the files: whatever the writes, rotations and restarts, every line
written is read into the spool exactly once and in order, except the lines a copytruncate took away
before they were read (which the model predicts exactly).

Each rule acts on real files while the agent is paused between steps; `catch_up` runs the real
`file` source on a real spool until it has read everything, then compares the spool to the model.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from shipper.buffer.spool import Spool
from shipper.sources.files.config import FileOptions
from shipper.sources.files.source import FileSource
from tests.agent_process import spooled_messages

SPOOL_SIZE = 64 * 1024 * 1024


class TailerModel(RuleBasedStateMachine):
    @initialize(mode=st.sampled_from(["create", "copytruncate"]))
    def start(self, mode: str) -> None:
        self.mode = mode  # how this node's logrotate rotates the file; a file is rotated one way only
        self.root = Path(tempfile.mkdtemp(prefix="rotation-model-"))
        self.logs = self.root / "logs"
        self.logs.mkdir()
        self.log = self.logs / "app.log"
        self.options = FileOptions.model_validate({
            "type": "file", "include": [str(self.logs / "*.log")],
            "discover_interval": "20ms", "poll_interval": "5ms", "read_block_size": "4KiB",
        })
        self.loop = asyncio.new_event_loop()
        self.generation = 0
        self.written: dict[int, list[str]] = {}  # generation -> lines, in write order
        self.lost: set[str] = set()  # lines a copytruncate removed before the agent read them
        self.current = self._new_generation()
        self.log.touch()
        self.current_seen = False  # whether the agent has opened the file now at `app.log`
        self.source: FileSource | None = None
        self.task: asyncio.Task | None = None
        self._start_agent()

    def teardown(self) -> None:
        if hasattr(self, "loop"):
            try:
                self.catch_up()  # whatever the last step was, everything readable ends up in the spool
            finally:
                self._stop_agent()
            self.loop.close()
            shutil.rmtree(self.root, ignore_errors=True)

    # -- the agent ------------------------------------------------------------------------------

    def _start_agent(self) -> None:
        self.spool = Spool.open(self.root / "data", SPOOL_SIZE)
        self.spool.attach_sinks({"model": ["app"]})  # never acknowledges: the spool keeps every record
        self.source = FileSource("app", self.options, self.spool, "host")
        self.task = self.loop.create_task(self.source.run())
        self._run_until(self._tailing_current)  # the first scan, where files rotated while stopped are found

    def _stop_agent(self) -> None:
        assert self.source is not None and self.task is not None
        self.source.stop()
        self.loop.run_until_complete(self.task)
        self.spool.close()

    def _spooled(self) -> list[str]:
        return [message for _, message in spooled_messages(self.root / "data")]

    def _expected(self) -> list[str]:
        return [line for lines in self.written.values() for line in lines if line not in self.lost]

    def _run_until(self, condition, timeout: float = 3.0) -> None:
        async def wait() -> None:
            deadline = self.loop.time() + timeout
            while not condition() and self.loop.time() < deadline:
                await asyncio.sleep(0.005)
            assert not self.task.done(), self.task.exception()

        self.loop.run_until_complete(wait())

    # -- rules ----------------------------------------------------------------------------------

    def _new_generation(self) -> int:
        self.generation += 1
        self.written[self.generation] = []
        return self.generation

    @rule(count=st.integers(1, 40), width=st.integers(0, 300))
    def write(self, count: int, width: int) -> None:
        lines = self.written[self.current]
        new = [f"g{self.current} n{len(lines) + i:05d} " + "x" * ((width * (i + 1)) % 301) for i in range(count)]
        with open(self.log, "a") as handle:
            handle.write("".join(f"{line}\n" for line in new))
        lines.extend(new)

    @rule()
    def catch_up(self) -> None:
        expected = len(self._expected())
        self._run_until(lambda: self._tailing_current() and len(self._spooled()) >= expected)
        self.current_seen = True
        assert self._by_generation(self._spooled()) == self._by_generation(self._expected())

    def _tailing_current(self) -> bool:
        inode = self.log.stat().st_ino
        return any(tailed.identity.inode == inode for tailed in self.source.files.values())

    @precondition(lambda self: self.mode == "create" and self.current_seen)
    @rule()
    def rotate_by_rename(self) -> None:
        """logrotate `create` with `rotate 1`, kubelet's rename: the old file keeps being read by descriptor."""
        os.replace(self.log, self.logs / "app.log.1")
        self.log.touch()
        self.current = self._new_generation()
        self.current_seen = False

    @precondition(lambda self: self.mode == "copytruncate" and self.current_seen)
    @rule()
    def copytruncate(self) -> None:
        """logrotate `copytruncate`: what the agent had not read yet goes with the copy."""
        (self.logs / "app.log.1").unlink(missing_ok=True)  # logrotate removes the oldest, then copies anew
        shutil.copyfile(self.log, self.logs / "app.log.1")
        read = set(self._spooled())
        self.lost.update(line for line in self.written[self.current] if line not in read)
        os.truncate(self.log, 0)
        self.current = self._new_generation()

    @rule()
    def delete_rotated(self) -> None:
        (self.logs / "app.log.1").unlink(missing_ok=True)

    @rule()
    def restart(self) -> None:
        self._stop_agent()
        self._start_agent()

    @precondition(lambda self: self.current_seen)
    @rule()
    def rotate_while_stopped(self) -> None:
        """Rotation while the agent is down: on start it finishes the old file, then reads the new one."""
        self._stop_agent()
        if self.mode == "create":
            self.rotate_by_rename()
        else:
            self.copytruncate()
        self._start_agent()

    @invariant()
    def nothing_read_twice_or_out_of_order(self) -> None:
        if not hasattr(self, "loop"):
            return
        spooled = self._by_generation(self._spooled())
        expected = self._by_generation(self._expected())
        for generation, lines in spooled.items():
            assert lines == expected[generation][: len(lines)], f"generation {generation} read out of order"

    @staticmethod
    def _by_generation(lines: list[str]) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for line in lines:
            out.setdefault(int(line.split(" ", 1)[0][1:]), []).append(line)
        return out


TailerModel.TestCase.settings = settings(max_examples=250, stateful_step_count=30, deadline=None)
test_every_written_line_is_read_exactly_once_in_order_through_rotations_and_restarts = TailerModel.TestCase


def test_a_copytruncated_file_written_past_the_old_offset_before_the_next_read_is_read_from_its_start():
    state = TailerModel()
    state.start(mode="copytruncate")
    state.write(count=3, width=10)
    state.catch_up()
    state.copytruncate()
    state.write(count=10, width=50)  # the file is longer than the offset again: size alone cannot tell
    state.catch_up()
    state.teardown()
