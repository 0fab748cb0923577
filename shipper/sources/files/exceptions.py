"""`multiline: {mode: exceptions}`: stack traces of known languages grouped into one record, without a
pattern per application (one `kubernetes_logs` source reads every container of the node).

Per stream (stdout and stderr apart), a state machine reads each line: a line that starts a trace
opens a group, lines that continue it join it, and the group leaves with the first line that does
not (or when the trace's own last line says it ended, at `max_lines`, `max_bytes` or `timeout`).
A line that is not part of a trace leaves at once: ordinary lines wait for nothing.

The machine is the one GKE nodes have run since the start (Fluentd's detect-exceptions plugin): the
rules below are its rules for Java (also for Node.js and .NET, whose traces have Java's shape),
Python, PHP, Go and Ruby, with the forms today's runtimes print that it predates:
Python 3.11's `~~^~~` markers under a frame's code, a chained traceback (`The above exception was the
direct cause ...`) kept in one record, an exception line without a message, Go's `fatal error:` and
a repanic, Ruby's own `file.rb:1:in 'method': message (Error)` with its `from` lines, .NET's inner
exceptions (` ---> `, `--- End of inner exception stack trace ---`) and PHP without the `PHP ` prefix.
Every rule runs on RE2; the rules of one state are searched in one pass (RegexSet).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from shipper.record import MESSAGE, Record
from shipper.regex import RegexSet
from shipper.sources.files.config import MAX_LINES
from shipper.sources.files.formats import Decoder
from shipper.sources.files.multiline import Group, GroupingDecoder, stream_of
from shipper.text import utf8_size

START = ""  # the state outside any trace


@dataclass(frozen=True)
class Rule:
    """In one of `states`, a line that `pattern` finds moves the machine to `to`."""

    states: tuple[str, ...]
    pattern: str
    to: str


def rule(states: str | tuple[str, ...], pattern: str, to: str) -> Rule:
    return Rule(states if isinstance(states, tuple) else (states,), pattern, to)


JAVA = [
    rule((START, "java_start"), r"(?:Exception|Error|Throwable|V8 errors stack trace)(?::|$)", "java_after_exception"),
    rule("java_after_exception", r"^[\t ]*nested exception is:[\t ]*$", "java_start"),
    rule("java_after_exception", r"^$", "java_after_exception"),
    rule(("java_after_exception", "java"), r"^[\t ]+(?:eval )?at ", "java"),
    rule(("java_after_exception", "java"), r"^[\t ]*(?:Caused by|Suppressed):", "java_after_exception"),
    rule(("java_after_exception", "java"), r"^[\t ]*\.\.\. \d+ (?:more|common frames omitted)$", "java"),
]
DOTNET = [
    rule(("java_after_exception", "java"), r"^[\t ]*---> ", "java_after_exception"),
    rule(("java_after_exception", "java"),
         r"^[\t ]*--- End of (?:inner exception stack trace|stack trace from previous location)", "java"),
]
PYTHON = [
    rule(START, r"^Traceback \(most recent call last\):$", "python"),
    rule("python", r"^[\t ]+File ", "python_code"),
    rule("python_code", r"[^\t ]", "python"),
    rule("python", r"^[\t ]+[~^]+[\t ]*$", "python"),
    rule("python", r"^(?:[^\s.():]+\.)*[^\s.():]+(?::|$)", "python_exception"),
    rule("python_exception", r"^$", "python_exception_blank"),
    rule("python_exception_blank", r"^(?:During handling of the above exception, another exception occurred"
                                   r"|The above exception was the direct cause of the following exception):$",
         "python_chain"),
    rule("python_chain", r"^$", "python_chain"),
    rule("python_chain", r"^Traceback \(most recent call last\):$", "python"),
]
PHP = [
    rule(START, r"(?:^(?:PHP )?(?:Notice|Parse error|Fatal error|Warning): )|(?:PHP (?:Notice|Parse error|Fatal error|"
                r"Warning):)|(?:exception '[^']+' with message ')", "php_stack_begin"),
    rule("php_stack_begin", r"^Stack trace:", "php_stack_frames"),
    rule("php_stack_frames", r"^#\d", "php_stack_frames"),
    rule("php_stack_frames", r"^\s+thrown in ", START),
]
GO = [
    rule(START, r"\bpanic: |^fatal error: ", "go_after_panic"),
    rule(("go_after_panic", "go_after_signal", "go_frame_1"), r"^$", "go_goroutine"),
    rule("go_after_panic", r"^\[signal ", "go_after_signal"),
    rule("go_after_panic", r"^\s*panic: ", "go_after_panic"),
    rule("go_goroutine", r"^goroutine \d+ \[[^\]]+\]:$", "go_frame_1"),
    rule("go_frame_1", r"^(?:[^\s.:]+\.)*[^\s.():]+\(|^created by ", "go_frame_2"),
    rule("go_frame_2", r"^\s", "go_frame_1"),
]
RUBY = [
    rule(START, r"Error \(.*\):$", "ruby_before_rails_trace"),
    rule("ruby_before_rails_trace", r"^  $", "ruby"),
    rule(("ruby_before_rails_trace", "ruby"), r"^[\t ]+.*?\.rb:\d+:in `", "ruby"),
    rule(START, r"^\S.*\.rb:\d+:in [`'].*\)$", "ruby_raised"),
    rule("ruby_raised", r"^[\t ]+from .+:\d+:in [`']", "ruby_raised"),
]
RULES: dict[str, list[Rule]] = {
    "java": JAVA, "node": JAVA, "dotnet": JAVA + DOTNET, "python": PYTHON, "php": PHP, "go": GO, "ruby": RUBY}
LANGUAGES = tuple(RULES)
# The order rules are tried in: detect-exceptions' (Java, Python, PHP, Go, Ruby) but Java's last, whose
# start rule (any `...Exception:` or `...Error:`) would take PHP 8's `PHP Fatal error:  Uncaught Exception:`.
ORDER = ("python", "php", "go", "ruby", "java", "node", "dotnet")


class Detected(Enum):
    """What a line is to the trace of its stream (detect-exceptions' four answers)."""

    NO_TRACE = "no_trace"  # not part of a trace
    START = "start"  # starts a trace (ending the one before, if any)
    INSIDE = "inside"  # part of the trace
    END = "end"  # the trace's last line


class TraceDetector:
    """The state machine of the chosen languages' rules; the state lives with each stream's group."""

    def __init__(self, languages: Iterable[str]):
        chosen = set(languages)
        rules: list[Rule] = []
        for language in ORDER:
            if language in chosen:
                rules.extend(r for r in RULES[language] if r not in rules)
        by_state: dict[str, list[Rule]] = {}
        for each in rules:
            for state in each.states:
                by_state.setdefault(state, []).append(each)
        self.rules = {state: (RegexSet([r.pattern for r in state_rules]), [r.to for r in state_rules])
                      for state, state_rules in by_state.items()}

    def _step(self, state: str, line: str) -> str | None:
        """The state `line` moves the machine to from `state`; None when no rule of that state finds it."""
        found = self.rules.get(state)
        if found is None:
            return None
        index = found[0].first_in(line)
        return None if index is None else found[1][index]

    def update(self, state: str, line: str) -> tuple[str, Detected]:
        """The next state and what `line` is. A line no rule of the state takes is read again from the
        start: it may begin another trace."""
        to = self._step(state, line)
        seen_before = to is not None
        if to is None:
            to = self._step(START, line) if state != START else None
            to = START if to is None else to
        if seen_before:
            return to, Detected.INSIDE if to != START else Detected.END
        return to, Detected.START if to != START else Detected.NO_TRACE


class ExceptionsDecoder(GroupingDecoder):
    """`mode: exceptions`: groups each stream's stack traces (TraceDetector), passes other lines on."""

    def __init__(self, inner: Decoder, languages: Sequence[str], timeout: float, max_bytes: int,
                 max_lines: int = MAX_LINES):
        super().__init__(inner, timeout, max_bytes, max_lines)
        self.detector = TraceDetector(languages)

    def _group(self, records: list[Record], now: float) -> list[Record]:
        out: list[Record] = []
        groups, update = self.groups, self.detector.update
        for record in records:
            key = stream_of(record)
            group = groups.get(key)
            message = record[MESSAGE]
            size = utf8_size(message)
            if group is not None and not self._fits(group, size):  # the machine starts again after it
                out.append(groups.pop(key).record())
                group = None
            state, detected = update(group.state if group is not None else START, message)
            if group is None:
                if detected is Detected.NO_TRACE or detected is Detected.END:
                    out.append(record)
                else:
                    groups[key] = Group(record, now, state)
            elif detected is Detected.INSIDE:
                group.add(message, size, now)
                group.state = state
            elif detected is Detected.END:
                group.add(message, size, now)
                out.append(groups.pop(key).record())
            else:
                out.append(groups.pop(key).record())
                if detected is Detected.NO_TRACE:
                    out.append(record)
                else:
                    groups[key] = Group(record, now, state)
        return out
