"""What `run` will need from the machine, checked without side effects: `shipper check` reports it,
`run` refuses to start without it, a reload refuses a configuration that lacks it.

Each component's options know what they need (`Options.environment_issues`: files to read, a
region); the agent as a whole needs a writable data dir and a free API address.
"""

from __future__ import annotations

import difflib
import os
import socket
from pathlib import Path

from shipper.buffer.layout import newer_spool_problem
from shipper.config.base import FieldTree, produces
from shipper.config.errors import ConfigIssue
from shipper.config.model import AgentConfig
from shipper.config.units import split_address
from shipper.layouts import ours
from shipper.templates import field_text


def environment_issues(config: AgentConfig, *, api_port: bool = True, data_dir: bool = True) -> list[ConfigIssue]:
    """Every problem, each naming its key; empty when `run` has what it needs."""
    issues: list[ConfigIssue] = []
    if data_dir:
        reason = data_dir_problem(config.data_dir)
        if reason:
            issues.append(ConfigIssue("data_dir", reason))
    if api_port and config.api is not None:
        reason = address_problem(config.api.address)
        if reason:
            issues.append(ConfigIssue("api.address", reason))
    for kind, components in (("sources", config.sources), ("transforms", config.transforms), ("sinks", config.sinks)):
        for component_id, options in components.items():
            for key, reason in options.environment_issues():
                issues.append(ConfigIssue(f"{kind}.{component_id}.{key}", reason))
    return issues


def data_dir_problem(path: str) -> str | None:
    """Why the data dir could not be created or written, or holds a spool this agent must not open."""
    existing = Path(path)
    while not existing.exists():
        if existing.parent == existing:
            return f"{path} cannot be created"
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a directory"
    if os.statvfs(existing).f_flag & os.ST_RDONLY:
        return f"{existing} is on a read-only file system"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable by this user"
    return newer_spool_problem(path) if existing == Path(path) else None


def address_problem(address: str) -> str | None:
    """Why the API could not listen at host:port, if it could not (the port is tried and let go)."""
    host, port = split_address(address)
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        return f"{host!r} does not resolve: {error.strerror}"
    family, kind, proto, _, sockaddr = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(sockaddr)
        except OSError as error:
            return f"cannot listen on {address}: {error.strerror} (is another agent or program using it?)"
    return None


SET_BY_THE_AGENT = ("host", "source_type")  # on every record, whatever its source: no client sets them


def _meant(path: tuple[str, ...], trees: list[FieldTree | None]) -> str:
    """What a field no input produces was probably meant to be: a peer's name translated, or the
    nearest name the inputs produce."""
    translated = ours(path)
    if translated is not None and any(produces(tree, translated[1]) for tree in trees):
        return f": that is {translated[0]}'s name for {{{field_text(translated[1])}}}"
    known = sorted({field_text(known) for tree in trees for known in _paths(tree)})
    nearest = difflib.get_close_matches(field_text(path), known, n=1, cutoff=0.6)
    return f": did you mean {{{nearest[0]}}}?" if nearest else ": check its spelling"


def _paths(tree: FieldTree | None, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every path a record described by `tree` names (below a None subtree: only the subtree's own)."""
    found = []
    for key, subtree in (tree or {}).items():
        found.append((*prefix, key))
        found += _paths(subtree, (*prefix, key))
    return found


def warnings(config: AgentConfig, globs: bool = True) -> list[ConfigIssue]:
    """What is valid but probably not what was meant: a template naming a field no input of its sink
    produces (a typo sends every record to the fallback name), or one that unauthenticated clients
    write (forward records: a client picks the destinations), and with `globs`, what the sources find
    amiss on this machine, such as an include glob that matches nothing (`run` leaves that to the file
    sources' own scans, which say it once a minute)."""
    found = []
    topology = config.topology()
    open_streams = {stream: source_id for source_id, source in config.sources.items()
                    if source.unauthenticated_clients() for stream in topology.plan(source_id).streams}
    for sink_id, sink in config.sinks.items():
        trees = [topology.fields(name) for name in sink.inputs if name in topology.owner]
        from_clients = sorted({open_streams[name] for name in sink.inputs if name in open_streams})
        for option, template in sink.templates().items():
            for path in template.fields:
                field = field_text(path)
                if not any(produces(tree, path) for tree in trees):
                    found.append(ConfigIssue(f"sinks.{sink_id}.{option}", f"{{{field}}} is a field no input of this "
                                             f"sink produces ({', '.join(sink.inputs)}){_meant(path, trees)}"))
                elif from_clients and path[0] not in SET_BY_THE_AGENT:
                    found.append(ConfigIssue(f"sinks.{sink_id}.{option}", f"{{{field}}} is written by clients of "
                                             f"{', '.join(from_clients)} that nobody authenticates: they choose where "
                                             "their records go (set shared_key, or name destinations from fields "
                                             "the agent sets)"))
    if not globs:
        return found
    for source_id, source in config.sources.items():
        found += [ConfigIssue(f"sources.{source_id}.{key}", reason) for key, reason in source.environment_warnings()]
    return found
