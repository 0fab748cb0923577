"""The graph from sources through transforms to sinks: its checks, and what each source feeds.

Every source and transform has an id; a transform with named outputs (a route) is read as
`<id>.<name>`. The spool stores records under *streams*: the ids and outputs that some sink takes.
A block a source reads goes once through every transform it reaches, in an order where each
transform comes after its inputs, and is stored once per stream a sink takes — never once per sink.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shipper.config.base import FieldTree, SinkOptions, SourceOptions, TransformOptions, merge_trees

Issue = tuple[tuple[str | int, ...], str]  # (key path, reason)


@dataclass(frozen=True)
class Step:
    """One transform a source's records go through, and the streams that feed it."""

    transform: str
    inputs: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    """What one source's blocks go through: `steps` in order, then stored under `streams`."""

    source: str
    steps: tuple[Step, ...]
    streams: tuple[str, ...]


class Topology:
    def __init__(self, sources: Mapping[str, SourceOptions], transforms: Mapping[str, TransformOptions],
                 sinks: Mapping[str, SinkOptions]):
        self.sources = sources
        self.transforms = transforms
        self.sinks = sinks
        self.owner: dict[str, str] = {source_id: source_id for source_id in sources}  # stream -> its component
        for transform_id, options in transforms.items():
            names = options.outputs()
            for name in names or [""]:
                self.owner[f"{transform_id}.{name}" if name else transform_id] = transform_id

    def outputs_of(self, component_id: str) -> list[str]:
        """The streams a source or transform puts out: its id, or `<id>.<name>` for each named output."""
        return [stream for stream, owner in self.owner.items() if owner == component_id]

    # -- checks ----------------------------------------------------------------------------------

    def issues(self) -> list[Issue]:
        """Ids used twice, inputs naming nothing, cycles, and components whose records go nowhere."""
        issues: list[Issue] = [(("transforms", t), f"{t!r} is already the id of a source")
                               for t in self.transforms if t in self.sources]
        for kind, components in (("transforms", self.transforms), ("sinks", self.sinks)):
            for component_id, options in components.items():
                for i, name in enumerate(options.inputs):
                    if name not in self.owner:
                        issues.append(((kind, component_id, "inputs", i), self._unknown(name)))
        issues += self._cycles()
        consumers = self._consumers()
        for source_id in self.sources:
            if not consumers.get(source_id):
                issues.append((("sources", source_id), "nothing takes this source in its inputs"))
        for transform_id in self.transforms:
            outputs = self.outputs_of(transform_id)
            if not any(consumers.get(stream) for stream in outputs):
                issues.append((("transforms", transform_id),
                               "nothing takes this transform's output in its inputs" if len(outputs) == 1 else
                               f"nothing takes any of its outputs ({', '.join(outputs)}) in its inputs"))
        return issues

    def _unknown(self, name: str) -> str:
        if name in self.transforms:
            outputs = ", ".join(self.outputs_of(name))
            return f"{name!r} has named outputs: take one of {outputs}"
        known = ", ".join(sorted(self.owner))
        return f"{name!r} is not the id of a source or transform output (known: {known})"

    def _cycles(self) -> list[Issue]:
        issues: list[Issue] = []
        state: dict[str, str] = {}  # transform id -> "visiting" | "done"

        def visit(transform_id: str, trail: list[str]) -> None:
            state[transform_id] = "visiting"
            for name in self.transforms[transform_id].inputs:
                upstream = self.owner.get(name, "")
                if upstream not in self.transforms:
                    continue
                if state.get(upstream) == "visiting":
                    loop = [*trail[trail.index(upstream):], upstream]
                    issues.append((("transforms", transform_id, "inputs"), "a cycle: " + " -> ".join(loop)))
                elif upstream not in state:
                    visit(upstream, [*trail, upstream])
            state[transform_id] = "done"

        for transform_id in self.transforms:
            if transform_id not in state:
                visit(transform_id, [transform_id])
        return issues

    def _consumers(self) -> dict[str, list[str]]:
        consumers: dict[str, list[str]] = {}
        for components in (self.transforms, self.sinks):
            for component_id, options in components.items():
                for name in options.inputs:
                    consumers.setdefault(name, []).append(component_id)
        return consumers

    # -- what runs -------------------------------------------------------------------------------

    def order(self) -> list[str]:
        """Transform ids, each after every transform it takes records from (the graph has no cycle)."""
        ordered: list[str] = []
        placed: set[str] = set()

        def place(transform_id: str) -> None:
            if transform_id in placed:
                return
            placed.add(transform_id)
            for name in self.transforms[transform_id].inputs:
                if self.owner.get(name) in self.transforms:
                    place(self.owner[name])
            ordered.append(transform_id)

        for transform_id in self.transforms:
            place(transform_id)
        return ordered

    def stored_streams(self) -> set[str]:
        return {name for options in self.sinks.values() for name in options.inputs}

    def plan(self, source_id: str) -> Plan:
        """The transforms `source_id`'s records reach, in order, and the streams they are stored under."""
        reached = {source_id}
        steps = []
        for transform_id in self.order():
            inputs = tuple(name for name in self.transforms[transform_id].inputs if name in reached)
            if inputs:
                steps.append(Step(transform_id, inputs))
                reached.update(self.outputs_of(transform_id))
        stored = self.stored_streams()
        return Plan(source_id, tuple(steps), tuple(s for s in self.owner if s in reached and s in stored))

    def fields(self, stream: str) -> FieldTree | None:
        """What the records of a stream can carry (None: anything)."""
        owner = self.owner[stream]
        if owner in self.sources:
            return self.sources[owner].fields()
        options = self.transforms[owner]
        return options.fields_from(merge_trees([self.fields(name) for name in options.inputs if name in self.owner]))

    def describe(self) -> list[str]:
        lines = []
        if self.transforms:
            lines.append("transforms:")
            for transform_id in self.order():
                options = self.transforms[transform_id]
                lines.append(f"  {transform_id} ({options.describe()}) <- {', '.join(options.inputs)}")
        return lines
