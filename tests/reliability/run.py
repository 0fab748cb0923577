"""One reliability run: a simulated node and real backends, the agent under a seeded fault plan, then
a verdict with exact counts.

    run = ReliabilityRun(workdir, seed, SHORT, localstack_url)
    report = run.execute()
    print(report.render()); assert not report.problems
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from peers.http_collector import HttpCollector
from peers.rsyslog import free_port
from shipper.agent import EXIT_SPOOL_UNAVAILABLE
from tests.agent_process import wait_for, write_config
from tests.cloudwatch import unique_prefix
from tests.reliability.commits import CommitWatcher
from tests.reliability.faults import Profile, Step, plan
from tests.reliability.ledger import NORMAL, REPAIRED, TOO_NEW, TOO_OLD, Ledger, id_in
from tests.reliability.node import (
    DockerWriter,
    ForwardWriter,
    Hostile,
    JournalWriter,
    PodWriter,
    Writer,
    clock_jump_stamps,
)
from tests.reliability.parts import (
    CloudWatchBackend,
    DataDisk,
    FirehoseBackend,
    S3Backend,
    Supervisor,
    SyslogBackend,
    agent_config,
    total,
)

SHUTDOWN_GRACE = 20.0  # seconds a SIGTERM'd agent may take (its shutdown_timeout is 5 s)
ACCOUNT_TIMEOUT = 120.0
DELIVERY_TIMEOUT = 300.0
STALL = 20.0
QUIET_LINES = 200


@dataclass
class Delivery:
    """What one backend received, measured against the ledger."""

    backend: str
    received: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: Counter = field(default_factory=Counter)  # id -> extra copies
    altered: list[str] = field(default_factory=list)
    out_of_order: list[str] = field(default_factory=list)
    rejected_arrived: list[str] = field(default_factory=list)  # too old / too new, yet stored
    arrived: set[str] = field(default_factory=set)
    big_line_bytes: int = 0

    def row(self) -> str:
        return (f"{self.backend:<11} received {self.received:>8}  lost {len(self.lost):>6}  duplicated "
                f"{sum(self.duplicated.values()):>6}  altered {len(self.altered):>4}  out of order "
                f"{len(self.out_of_order):>4}  big line {self.big_line_bytes} B")


@dataclass
class Report:
    seed: int
    profile: Profile
    steps: list[str] = field(default_factory=list)
    written: Counter = field(default_factory=Counter)
    deliveries: list[Delivery] = field(default_factory=list)
    checks: list[tuple[str, float, float]] = field(default_factory=list)  # what, agent's count, ours
    problems: list[str] = field(default_factory=list)
    agent_starts: int = 0
    forward_resent: int = 0  # lines the forward client sent again for want of an ack
    unexpected_exits: list[tuple[int, str]] = field(default_factory=list)
    waited_for_agent: float = 0.0

    def check(self, what: str, agent: float, ours: float) -> None:
        self.checks.append((what, agent, ours))
        if agent != ours:
            self.problems.append(f"{what}: the agent counted {agent:g}, the run {ours:g}")

    def render(self) -> str:
        lines = [f"seed {self.seed}: {len(self.steps)} steps, {self.agent_starts} agent starts, "
                 f"{len(self.unexpected_exits)} exits on its own (codes "
                 f"{sorted(Counter(c for c, _ in self.unexpected_exits).items())})",
                 "written: " + ", ".join(f"{k} {v}" for k, v in sorted(self.written.items())),
                 *(d.row() for d in self.deliveries),
                 *(f"check {what}: agent {a:g}, run {o:g}" for what, a, o in self.checks),
                 f"kubelet waited {self.waited_for_agent:.1f}s in all for the agent before deleting files",
                 f"the forward client sent lines again {self.forward_resent} times for want of an ack",
                 *(f"PROBLEM {p}" for p in self.problems)]
        return "\n".join(lines)


class ReliabilityRun:
    def __init__(self, workdir: Path, seed: int, profile: Profile, localstack: str):
        self.workdir = workdir
        self.seed = seed
        self.profile = profile
        self.localstack = localstack
        self.random = random.Random(seed)
        self.report = Report(seed, profile)
        self.ledger = Ledger()
        self.pods: list[PodWriter] = []
        self.writers: list[Writer] = []
        self.background: list[threading.Thread] = []
        self.open_windows: set[str] = set()
        self._pod_count = 0

    # -- the run -----------------------------------------------------------------------------------

    def execute(self) -> Report:
        try:
            self._set_up()
            self._faults()
            self._settle()
            self._quiet_phase()
            self._verdict()
        finally:
            self._tear_down()
        return self.report

    def _set_up(self) -> None:
        root = self.workdir / "node"
        (root / "journal").mkdir(parents=True)
        self.root = root
        self.disk = DataDisk(self.workdir / "mnt")
        self.commits = CommitWatcher(self.disk.data_dir / "spool.db")
        self.commits.start()
        self.cloudwatch = CloudWatchBackend(self.localstack, unique_prefix())
        self.syslog = SyslogBackend(self.workdir / "syslog")
        self.http = HttpCollector().start()
        self.firehose = FirehoseBackend(self.localstack)
        self.s3 = S3Backend(self.localstack)
        api = f"http://127.0.0.1:{free_port()}"
        forward_port = free_port()
        config = write_config(self.workdir / "shipper.yaml", agent_config(
            root, self.disk.data_dir, api, self.cloudwatch, self.syslog, forward_port, self.http.url, self.firehose,
            self.s3))
        self.hostile = Hostile(root, self.ledger, random.Random(self.seed + 1))
        self.journal = JournalWriter(root / "journal", 40, self.ledger, self.commits, self.seed)
        self.journal.inject([time.time_ns()], NORMAL)  # the journal file exists before the agent starts
        self.writers.append(self.journal)
        self.writers.append(DockerWriter(root, 30, self.profile.rotate_bytes, self.ledger, self.commits, self.seed))
        self.forward = ForwardWriter(forward_port, 30, self.ledger, self.commits, self.seed)
        self.writers.append(self.forward)
        for _ in range(self.profile.pods):
            self._add_pod()
        self.supervisor = Supervisor(config, api)
        self.supervisor.start()
        self.supervisor.up()
        self.supervisor.wait_ready()
        for writer in self.writers:
            writer.start()

    def _add_pod(self) -> PodWriter:
        index = self._pod_count
        self._pod_count += 1
        namespace = ("shop", "billing", "search")[index % 3]
        pod = PodWriter(self.root, namespace, f"web-{index}", self.random.uniform(*self.profile.pod_rate),
                        self.profile.rotate_bytes, self.ledger, self.commits, self.seed * 1000 + index)
        self.pods.append(pod)
        self.writers.append(pod)
        return pod

    def _faults(self) -> None:
        started = time.monotonic()
        for step in plan(self.seed, self.profile):
            time.sleep(max(0.0, started + step.at - time.monotonic()))
            self.report.steps.append(f"{time.monotonic() - started:7.1f}s {step}")
            if ":" in step.action:
                self._window(*step.action.split(":"))
            else:
                getattr(self, "_do_" + step.action)(step)

    def _settle(self) -> None:
        """Every fault off (queued ones too: the last steps may queue more than minutes of backoff use
        up), the node stops writing; then wait until the backends have it all."""
        self._end_windows()
        self._no_fault_queued()
        self.hostile.end_big_line()
        for writer in self.writers:
            writer.stop()
        for thread in self.background:
            thread.join(600)
        self.supervisor.up()
        self.supervisor.wait_ready()
        self._wait_delivered()

    def _quiet_phase(self) -> None:
        """A clean restart, then lines with no fault at all: the agent's counters must match them."""
        code = self.supervisor.term(SHUTDOWN_GRACE)
        if code != 0:
            self.report.problems.append(f"SIGTERM after delivery: exit {code}")
        self.supervisor.up()
        self.supervisor.wait_ready()
        writers = [w for w in self.writers if w not in self.deleted_pods]
        for writer in writers:
            writer.inject([time.time_ns()] * QUIET_LINES, NORMAL)
        self._wait_delivered()
        samples = self.supervisor.scrape()
        received = total(samples, "shipper_events_received_total", component_type="kubernetes_logs") + total(
            samples, "shipper_events_received_total", component_type="journald") + total(
            samples, "shipper_events_received_total", component_type="file")
        received += total(samples, "shipper_events_received_total", component_type="forward")
        self.report.check("received in the quiet phase", received, QUIET_LINES * len(writers))
        for sink in ("cloudwatch", "syslog", "http", "firehose", "s3"):
            sent = total(samples, "shipper_events_sent_total", component_id=sink)
            self.report.check(f"{sink} sent in the quiet phase", sent, QUIET_LINES * len(writers))
        code = self.supervisor.term(SHUTDOWN_GRACE)
        if code != 0:
            self.report.problems.append(f"final SIGTERM: exit {code}")

    @property
    def deleted_pods(self) -> list[PodWriter]:
        return [p for p in self.pods if not p.directory.exists()]

    def _tear_down(self) -> None:
        for part in ("supervisor", "commits"):
            if hasattr(self, part):
                getattr(self, part).stop()
        if hasattr(self, "http"):
            self.http.stop()
        for part in ("cloudwatch", "syslog", "firehose", "s3", "disk"):
            if hasattr(self, part):
                getattr(self, part).close()
        if hasattr(self, "supervisor"):
            self.report.agent_starts = self.supervisor.starts
            self.report.unexpected_exits = self.supervisor.unexpected_exits
        self.report.waited_for_agent = sum(w.waited_for_agent for w in self.writers)
        self.report.written = self.ledger.by_kind()

    # -- waiting -----------------------------------------------------------------------------------

    def _wait_delivered(self) -> None:
        """Until syslog holds every id and the spool is empty (what is acknowledged has landed), or
        nothing has moved for STALL seconds with the spool empty: then the verdict counts what is missing."""
        wanted = self.ledger.ids()
        deadline = time.monotonic() + DELIVERY_TIMEOUT
        last_change, last_state = time.monotonic(), None
        while time.monotonic() < deadline:
            messages = self.syslog.messages()
            spooled = total(self.supervisor.scrape(), "shipper_spool_events")
            big_line_read = not self.hostile.big_line_bytes or self.commits.fully_read(self.hostile.big_file)
            if spooled == 0 and big_line_read and not wanted - {id_in(m) for m in messages}:
                return
            if (len(messages), spooled) != last_state:
                last_change, last_state = time.monotonic(), (len(messages), spooled)
            elif spooled == 0 and time.monotonic() - last_change > STALL:
                return
            time.sleep(1)
        self.report.problems.append(f"still delivering after {DELIVERY_TIMEOUT:g}s")

    def _quiesce(self) -> None:
        """Before a step that compares counters: the agent up, and no backend fault queued."""
        self.supervisor.up()
        self.supervisor.wait_ready()
        try:
            wait_for(lambda: self._faults_queued() == 0, 30, "queued faults used up", interval=0.2)
        except AssertionError:
            self._no_fault_queued()

    def _faults_queued(self) -> int:
        return (self.cloudwatch.proxy.pending() + self.firehose.proxy.pending() + self.s3.proxy.pending()
                + self.http.pending())

    def _no_fault_queued(self) -> None:
        self.cloudwatch.proxy.clear()
        self.firehose.proxy.clear()
        self.s3.proxy.clear()
        self.http.clear()

    def _counter(self, name: str, **labels: str) -> float:
        return total(self.supervisor.scrape(), name, **labels)

    def _await_count(self, what: str, name: str, baseline: float, expected: int, **labels: str) -> None:
        with contextlib.suppress(AssertionError):  # a count that never comes is reported by the check
            wait_for(lambda: self._counter(name, **labels) - baseline >= expected, ACCOUNT_TIMEOUT, what,
                     interval=0.2)
        self.report.check(what, self._counter(name, **labels) - baseline, expected)

    # -- steps: the agent --------------------------------------------------------------------------

    def _do_kill(self, step: Step) -> None:
        self.supervisor.kill()
        time.sleep(self.random.uniform(0.0, 1.5))
        self.supervisor.up()

    def _do_term(self, step: Step) -> None:
        # Graceful stops are tested on a running agent: a SIGTERM in the interpreter's first
        # milliseconds ends it by the signal, before any code of ours runs (and before it read anything)
        self.supervisor.up()
        self.supervisor.wait_ready()
        code = self.supervisor.term(SHUTDOWN_GRACE)
        if code not in (0, None):
            self.report.problems.append(f"SIGTERM at {step.at:.1f}s: exit {code}")
        self.supervisor.up()

    # -- steps: CloudWatch -------------------------------------------------------------------------

    def _do_throttle(self, step: Step) -> None:
        self.cloudwatch.proxy.throttle(step.arg)
        self.http.answer(429, step.arg, retry_after=0.5)  # the http collector throttles at the same time
        self.firehose.proxy.refuse_records(step.arg, every=3)  # Firehose refuses a third of each call's records

    def _do_server_error(self, step: Step) -> None:
        status = self.random.choice((500, 503))
        self.cloudwatch.proxy.unavailable(step.arg, status)
        self.http.answer(status, step.arg)
        self.firehose.proxy.unavailable(step.arg, status)
        self.s3.proxy.unavailable(step.arg, status)

    def _do_reset(self, step: Step) -> None:
        self.cloudwatch.proxy.reset(step.arg)

    def _do_reset_after_forward(self, step: Step) -> None:
        self.cloudwatch.proxy.reset_after_forward(step.arg)
        self.firehose.proxy.reset_after_forward(step.arg)  # taken, the answer lost: sent again whole
        self.s3.proxy.reset_after_forward(step.arg)  # stored, the answer lost: stored again under its key

    def _do_hang(self, step: Step) -> None:
        self.cloudwatch.proxy.hang(step.arg)

    # -- steps: syslog -----------------------------------------------------------------------------

    def _do_rsyslog_restart(self, step: Step) -> None:
        if "syslog_outage" not in self.open_windows:
            self.syslog.stop()
            self.syslog.start()

    # -- windows: a backend down, the data dir full or read-only ---------------------------------------

    def _window(self, name: str, edge: str) -> None:
        proxy, firehose, s3, disk = self.cloudwatch.proxy, self.firehose.proxy, self.s3.proxy, self.disk
        start, end = {  # the AWS endpoint is down for CloudWatch, Firehose and S3 alike
            "cloudwatch_outage": (lambda: (proxy.outage(True), firehose.outage(True), s3.outage(True)),
                                  lambda: (proxy.outage(False), firehose.outage(False), s3.outage(False))),
            "syslog_outage": (self.syslog.stop, self.syslog.start),
            "disk_full": (disk.fill, disk.free),
            "read_only": (lambda: disk.read_only(True), lambda: disk.read_only(False)),
        }[name]
        if edge == "start":
            self.open_windows.add(name)
            start()
        else:
            self.open_windows.discard(name)
            end()

    def _end_windows(self) -> None:
        for window in list(self.open_windows):
            self._window(window, "end")

    # -- steps: the node ---------------------------------------------------------------------------

    def _do_pod_added(self, step: Step) -> None:
        self._add_pod().start()

    def _do_pod_deleted(self, step: Step) -> None:
        alive = [p for p in self.pods if p.is_alive()]
        if len(alive) > 1:
            self._in_background(self.random.choice(alive).delete_pod)

    def _do_clock_jump(self, step: Step) -> None:
        self._quiesce()
        samples = self.supervisor.scrape()
        old, new = clock_jump_stamps(self.random, step.arg)
        writer = self.random.choice([p for p in self.pods if p.is_alive()] + [self.journal])
        writer.inject(old, TOO_OLD)
        writer.inject(new, TOO_NEW)
        for reason in ("too_old", "too_new"):
            name = "shipper_events_discarded_total"
            self._await_count(f"cloudwatch {reason} ({writer.origin})", name,
                              total(samples, name, component_id="cloudwatch", reason=reason), step.arg,
                              component_id="cloudwatch", reason=reason)

    # -- steps: hostile input ----------------------------------------------------------------------

    def _do_garbage(self, step: Step) -> None:
        self._quiesce()
        name, labels = "shipper_input_anomalies_total", {"component_id": "hostile", "kind": "invalid_utf8"}
        baseline = self._counter(name, **labels)
        invalid = self.hostile.garbage(step.arg) + self.hostile.invalid_utf8(step.arg)
        self._await_count("hostile invalid UTF-8 lines", name, baseline, invalid, **labels)
        self.commits.wait_fully_read([self.hostile.garbage_file, self.hostile.utf8_file], ACCOUNT_TIMEOUT)

    def _do_tiny_files(self, step: Step) -> None:
        self.hostile.tiny_files(step.arg)

    def _do_big_line(self, step: Step) -> None:
        self.hostile.big_line(step.arg)

    def _do_hostile_entries(self, step: Step) -> None:
        self.hostile.odd_entries()
        fifo = self.hostile.file_becomes_fifo()

        def replace_when_read() -> None:
            self.commits.wait_fully_read([fifo])
            self.hostile.replace_by_fifo(fifo)

        self._in_background(replace_when_read)

    def _in_background(self, work) -> None:
        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        self.background.append(thread)

    # -- verdict -----------------------------------------------------------------------------------

    def _verdict(self) -> None:
        rejected = self.ledger.ids(TOO_OLD, TOO_NEW)
        cloudwatch = self._delivery("cloudwatch", [m for ms in self.cloudwatch.messages().values() for m in ms],
                                    may_miss=rejected)
        cloudwatch.rejected_arrived = sorted(rejected & cloudwatch.arrived)
        syslog = self._delivery("syslog", self.syslog.messages(), may_miss=set())
        # up to 4 requests in flight: a batch retried after a 503 lands after later ones (no order promised)
        http = self._delivery("http", self.http.messages(), may_miss=set())
        # 4 calls in flight, and records refused within a call land after later ones: no order promised
        firehose = self._delivery("firehose", self.firehose.messages(), may_miss=set())
        # objects come back in key order, not in the order they were written: no order to check
        s3 = self._delivery("s3", self.s3.messages(), may_miss=set())
        self.report.deliveries += [cloudwatch, syslog, http, firehose, s3]
        problems = self.report.problems
        for delivery in (cloudwatch, syslog, http, firehose, s3):
            for what in ("lost", "altered", "out_of_order"):
                found = getattr(delivery, what)
                if what == "out_of_order" and delivery.backend in ("http", "firehose", "s3"):
                    continue  # counted and reported, not promised
                if found:
                    problems.append(f"{delivery.backend}: {len(found)} {what.replace('_', ' ')}, first {found[:5]}")
            if delivery.big_line_bytes < self.hostile.big_line_bytes:
                problems.append(f"{delivery.backend}: {delivery.big_line_bytes} B of the long line arrived, "
                                f"of {self.hostile.big_line_bytes}")
        # a forward client sends a message again when its ack did not come: those lines, and only
        # those, may arrive twice anywhere (the agent stored them, then died before acking)
        resent = self.forward.resent
        self.report.forward_resent = sum(resent.values())
        for exactly_once in (cloudwatch, s3):  # CloudWatch reads back, S3 objects replace themselves
            name = exactly_once.backend
            duplicated = Counter({i: n for i, n in exactly_once.duplicated.items() if i not in resent})
            if duplicated:
                problems.append(f"{name}: {sum(duplicated.values())} duplicates, first {list(duplicated)[:5]}")
            beyond = [i for i, n in exactly_once.duplicated.items() if i in resent and n > resent[i]]
            if beyond:  # the sink itself adds no copy: at most one more per time the client sent it again
                problems.append(f"{name}: forward lines arrived more often than they were sent, first {beyond[:5]}")
        if cloudwatch.big_line_bytes != self.hostile.big_line_bytes:
            problems.append(f"cloudwatch: the long line arrived as {cloudwatch.big_line_bytes} B")
        if cloudwatch.rejected_arrived:
            problems.append(f"cloudwatch stored {len(cloudwatch.rejected_arrived)} too old/new events")
        bad_exits = [(code, tail) for code, tail in self.supervisor.unexpected_exits if code != EXIT_SPOOL_UNAVAILABLE]
        for code, tail in bad_exits:
            problems.append(f"the agent exited on its own with {code}:\n{tail}")

    def _delivery(self, backend: str, messages: list[str], may_miss: set[str]) -> Delivery:
        delivery = Delivery(backend, received=len(messages))
        counts: Counter = Counter()
        order: dict[str, list[int]] = defaultdict(list)
        for message in messages:
            identifier = id_in(message)
            if identifier is None:
                if message.strip("x") == "":
                    delivery.big_line_bytes += len(message)
                continue
            counts[identifier] += 1
            kind = self.ledger.kinds.get(identifier)
            if identifier.startswith("hostile.big:"):
                delivery.big_line_bytes += len(message) - len(self.ledger.messages[identifier])
            elif kind == NORMAL and counts[identifier] == 1 and message != self.ledger.messages[identifier]:
                delivery.altered.append(identifier)
            if counts[identifier] == 1 and kind in (NORMAL, REPAIRED) and not identifier.startswith("hostile."):
                origin, seq = identifier.rsplit(":", 1)
                order[origin].append(int(seq))
        delivery.arrived = set(counts)
        delivery.lost = sorted(self.ledger.ids() - delivery.arrived - may_miss)
        delivery.duplicated = Counter({i: n - 1 for i, n in counts.items() if n > 1})
        for origin, seqs in order.items():  # every line that arrived after a later line of its writer
            latest = -1
            for seq in seqs:
                if seq < latest:
                    delivery.out_of_order.append(f"{origin}:{seq} after {latest}")
                latest = max(latest, seq)
        return delivery

