"""Command line: `shipper run`, `check`, `status`, `tap`, `top`, `import-offsets`, `translate`, `--version`."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from shipper import __version__, kernels
from shipper.components import load_config
from shipper.config.errors import ConfigError
from shipper.config.model import AgentConfig
from shipper.observe.logs import setup_logging

EXIT_CONFIG = 2
ENVIRONMENT_PROBLEMS = "problem(s) that `shipper run` would meet on this machine"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_CONFIG
    code: int = args.handler(args)
    return code


HELP = {
    None: """examples:
  shipper check --config /etc/shipper/shipper.yaml
  shipper run --config /etc/shipper/shipper.yaml
  shipper status --config /etc/shipper/shipper.yaml

exit codes: 0 ok, 2 configuration error, 75 the machine lacks what the configuration needs
(a file, the API port, the data dir or its lock), 130 stopped at once by a second signal.
Documentation: README.md and docs/ of the source distribution.""",
    "run": """Runs until SIGTERM or SIGINT: sources stop, sinks drain for shutdown_timeout, the rest stays in
the spool. SIGHUP reloads the file (an invalid one is refused, the running configuration stays).

example:
  shipper run --config /etc/shipper/shipper.yaml

exit codes: 0 stopped, 2 configuration error, 75 the machine lacks what the configuration needs
(a file it names, a region, the API port, a writable data dir, the data dir's lock), 130 a second
signal stopped the drain (nothing is lost).""",
    "check": """Validates the file (every error with its key and line) and what run needs from this machine
(files it names, a region for CloudWatch, the API port, a writable data dir), then prints the
pipeline. Changes nothing.

example:
  AWS_REGION=us-east-1 shipper check --config shipper.yaml

exit codes: 0 valid, 2 a problem (each printed).""",
    "status": """Reads the spool of a running or stopped agent without disturbing it: per file the offset, size
and lag; per sink the backlog, the oldest record and the last error (from the API when it is on);
parked CloudWatch streams.

examples:
  shipper status --config /etc/shipper/shipper.yaml
  shipper status --config /etc/shipper/shipper.yaml --watch      # redrawn every 2 s
  shipper status --config /etc/shipper/shipper.yaml --json       # for scripts

exit codes: 0 printed, 2 configuration error.""",
    "tap": """Prints the records leaving a source, a transform or a route output of the running agent, live,
without affecting delivery (a slow terminal drops records, and says how many). Needs `api.tap: true`
(and `api.token` when the API listens beyond loopback). Records before a redact transform are what
pods wrote, secrets included; tap the redact transform to see what leaves the node.

examples:
  shipper tap --config /etc/shipper/shipper.yaml containers            # a source
  shipper tap --config /etc/shipper/shipper.yaml scrub --limit 20      # what leaves the node after redact
  shipper tap --config /etc/shipper/shipper.yaml by_level.errors --json

exit codes: 0 done (or interrupted), 1 the agent refused the tap or does not answer, 2 configuration error.""",
    "top": """Redraws, every few seconds, what each source, transform and sink of the running agent does: records
in and out per second, discarded and errors per second, whether a sink is ready, and the spool. Read
from the agent's /metrics (the API must be on).

examples:
  shipper top --config /etc/shipper/shipper.yaml
  shipper top --config /etc/shipper/shipper.yaml --interval 5 --iterations 12

exit codes: 0 interrupted or done, 1 the agent's API does not answer, 2 configuration error.""",
    "import-offsets": """Before the first start on a node where Fluent Bit tailed the files: reads Fluent Bit's tail
database (its `DB` file; never changed) and writes, for each file a file or kubernetes_logs source
reads, a checkpoint at Fluent Bit's offset, so that nothing it read is sent again and nothing it had
not read is lost. Run it after Fluent Bit has stopped and before `shipper run`. Prints each file with
the offset taken or why it was skipped. See docs/migrating.md (the cut-over).

example:
  shipper import-offsets --config /etc/shipper/shipper.yaml --fluent-bit-db /var/log/flb_kube.db

For an init container (manifests/components/fluent-bit-cut-over), --init-container makes "nothing to
do" a success: no database there, or the data dir already has checkpoints for those files.

exit codes: 0 imported, 1 the data dir already has checkpoints for those files (--force replaces
them), 2 configuration error or not a Fluent Bit tail database, 75 the data dir is in use or newer.""",
    "translate": """Writes a shipper configuration doing what a Fluent Bit configuration (classic or YAML, with its
@INCLUDEs) or a Vector configuration (YAML or TOML) does, with the layout of that agent (its field
names in templates and in what sinks write) and a comment at each construct it could not carry over
(NOT TRANSLATED: read them). The result is checked as `shipper check` checks a configuration. See
docs/migrating.md.

examples:
  shipper translate --from fluent-bit /etc/fluent-bit/fluent-bit.conf -o shipper.yaml
  shipper translate --from vector /etc/vector/vector.toml

exit codes: 0 written and valid, 2 written but not valid (the reasons on stderr), or the file cannot
be read as that agent's configuration.""",
}


def _parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog="shipper", description="Node logging agent that never loses a line.",
                                     epilog=HELP[None], formatter_class=formatter)
    parser.add_argument("--version", action="version", version=f"shipper {__version__}\n{kernels.describe()}")
    commands = parser.add_subparsers(dest="command")
    for name, summary, handler in (
            ("run", "run the agent", _run),
            ("check", "validate a configuration and what it needs from this machine; print the pipeline", _check),
            ("status", "what each source has read and each sink still has to send", _status),
            ("tap", "print the records leaving a component of the running agent, live", _tap),
            ("top", "what each component of the running agent does, per second, redrawn", _top),
            ("import-offsets", "start where Fluent Bit's tail input stopped (its tail database's offsets)",
             _import_offsets),
            ("translate", "a Fluent Bit or Vector configuration as a shipper configuration", _translate)):
        command = commands.add_parser(name, help=summary, description=summary, epilog=HELP[name],
                                      formatter_class=formatter)
        if name == "translate":
            command.add_argument("--from", dest="agent", required=True, choices=("fluent-bit", "vector"),
                                 help="the agent whose configuration FILE is")
            command.add_argument("file", help="its configuration file")
            command.add_argument("-o", "--output", help="write here (default: standard output)")
            command.set_defaults(handler=_translate)
            continue
        command.add_argument("--config", "-c", required=True, help="YAML configuration file")
        if name == "run":
            command.add_argument("--watch-config", action="store_true",
                                 help="reload when the configuration file changes (as on SIGHUP)")
        if name == "tap":
            command.add_argument("component", help="a source id, a transform id, or a route output (route.name)")
            command.add_argument("--limit", type=int, default=0, help="stop after this many records")
            command.add_argument("--json", action="store_true", help="each record as its JSON line")
        if name == "top":
            command.add_argument("--interval", type=float, default=2.0, help="seconds between screens (default 2)")
            command.add_argument("--iterations", type=int, default=0, help="stop after this many screens")
        if name == "import-offsets":
            command.add_argument("--fluent-bit-db", required=True, help="Fluent Bit's tail database (its DB file)")
            command.add_argument("--force", action="store_true", help="replace checkpoints the data dir has")
            command.add_argument("--dry-run", action="store_true", help="print what would be imported; write nothing")
            command.add_argument("--init-container", action="store_true",
                                 help="nothing to do is not an error: no such database (a node Fluent Bit never "
                                      "ran on), or checkpoints already there (an agent ran here): exit 0")
        if name == "status":
            command.add_argument("--json", action="store_true", help="one JSON object instead of tables")
            command.add_argument("--watch", nargs="?", type=float, const=2.0, metavar="SECONDS",
                                 help="draw it again every SECONDS (default 2) until interrupted")
        command.set_defaults(handler=handler)
    return parser


def _load(path: str) -> AgentConfig | None:
    try:
        return load_config(path)
    except ConfigError as error:
        print(error.render(), file=sys.stderr)
        return None


def _check(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return EXIT_CONFIG
    from shipper.config.preflight import environment_issues, warnings

    issues = environment_issues(config)
    if issues:
        print(ConfigError(args.config, issues, ENVIRONMENT_PROBLEMS).render(), file=sys.stderr)
        return EXIT_CONFIG
    for warning in warnings(config):
        print(f"warning: {warning}", file=sys.stderr)
    print(describe_pipeline(config))
    return 0


def describe_pipeline(config: AgentConfig) -> str:
    lines = [f"data_dir: {config.data_dir}  buffer.max_size: {config.buffer.max_size} bytes  "
             f"shutdown_timeout: {config.shutdown_timeout:g}s", "sources:"]
    for source_id, source in config.sources.items():
        lines.append(f"  {source_id} ({source.type}): {source.origin()}")
    lines += config.topology().describe()
    lines.append("sinks:")
    for sink_id, sink in config.sinks.items():
        lines.append(f"  {sink_id} ({sink.type}) <- {', '.join(sink.inputs)}")
    return "\n".join(lines)


def _status(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return EXIT_CONFIG
    from shipper.status import status

    terminal = sys.stdout.isatty()
    if args.watch is None:
        print(status(config, colour=terminal, as_json=args.json))
        return 0
    try:
        while True:
            shown = status(config, colour=terminal, as_json=args.json)
            print(("\033[H\033[2J" if terminal else "") + shown, flush=True)  # a terminal: redrawn in place
            time.sleep(max(0.2, args.watch))
    except KeyboardInterrupt:
        return 0


def _tap(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return EXIT_CONFIG
    from shipper.tap import tap

    try:
        return tap(config, args.component, args.limit, args.json)
    except KeyboardInterrupt:
        return 0


def _top(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return EXIT_CONFIG
    from shipper.top import top

    try:
        return top(config, max(0.2, args.interval), screens=args.iterations)
    except KeyboardInterrupt:
        return 0


def _run(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return EXIT_CONFIG
    setup_logging(config.log.level, config.log.format, config.log.sdk_debug)
    from shipper.agent import Agent

    return asyncio.run(Agent(config, args.config, watch_config=args.watch_config).run())


if __name__ == "__main__":
    sys.exit(main())


def _translate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from shipper import translate

    try:
        text, problem = translate.translate(Path(args.file), args.agent)
    except translate.UnreadableConfiguration as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_CONFIG
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    if problem is not None:
        print("the translation does not pass check yet; fix these:\n" + problem.render(), file=sys.stderr)
        return EXIT_CONFIG
    if args.output:
        print(f"wrote {args.output}; read its NOT TRANSLATED comments, then: shipper check --config {args.output}",
              file=sys.stderr)
    return 0


def _import_offsets(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return EXIT_CONFIG
    from pathlib import Path

    from shipper import import_offsets
    from shipper.agent import EXIT_ENVIRONMENT
    from shipper.buffer.data_dir import DataDirLocked
    from shipper.buffer.layout import SpoolTooNew
    from shipper.buffer.spool import SpoolUnavailable

    database = Path(args.fluent_bit_db)
    if args.init_container and not database.exists():
        print(f"no Fluent Bit database at {database}: nothing to import")
        return 0
    try:
        result = import_offsets.plan(config, import_offsets.tracked_files(database))
    except import_offsets.ImportProblem as problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    except OSError as problem:  # out of descriptors: nothing is decided on a file not looked at
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_ENVIRONMENT
    print(import_offsets.render(result))
    if args.dry_run:
        return 0
    try:
        import_offsets.write(config, result, args.force)
    except import_offsets.Refused as refused:
        if args.init_container:
            print(f"nothing imported: {refused}")
            return 0
        print(f"error: {refused}", file=sys.stderr)
        return 1
    except (DataDirLocked, SpoolTooNew, SpoolUnavailable, OSError) as problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_ENVIRONMENT
    return 0
