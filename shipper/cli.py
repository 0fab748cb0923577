"""Command line: `shipper run`, `shipper check`, `shipper status`, `shipper --version`."""

from __future__ import annotations

import argparse
import asyncio
import sys

from shipper import __version__
from shipper.config.errors import ConfigError
from shipper.config.load import load_config
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
    return args.handler(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shipper", description="Node logging agent that never loses a line.")
    parser.add_argument("--version", action="version", version=f"shipper {__version__}")
    commands = parser.add_subparsers(dest="command")

    run = commands.add_parser("run", help="run the agent")
    run.add_argument("--config", "-c", required=True, help="YAML configuration file")
    run.set_defaults(handler=_run)

    check = commands.add_parser("check", help="validate a configuration and print the pipeline")
    check.add_argument("--config", "-c", required=True, help="YAML configuration file")
    check.set_defaults(handler=_check)

    status = commands.add_parser("status", help="what each source has read and each sink still has to send")
    status.add_argument("--config", "-c", required=True, help="YAML configuration file")
    status.set_defaults(handler=_status)
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
    from shipper.config.preflight import environment_issues

    issues = environment_issues(config)
    if issues:
        print(ConfigError(args.config, issues, ENVIRONMENT_PROBLEMS).render(), file=sys.stderr)
        return EXIT_CONFIG
    print(describe_pipeline(config))
    return 0


def describe_pipeline(config: AgentConfig) -> str:
    lines = [f"data_dir: {config.data_dir}  buffer.max_size: {config.buffer.max_size} bytes  "
             f"shutdown_timeout: {config.shutdown_timeout:g}s", "sources:"]
    for source_id, source in config.sources.items():
        where = source.directory or "the system journal" if source.type == "journald" else ", ".join(source.include)
        lines.append(f"  {source_id} ({source.type}): {where}")
    lines.append("sinks:")
    for sink_id, sink in config.sinks.items():
        lines.append(f"  {sink_id} ({sink.type}) <- {', '.join(sink.inputs)}")
    return "\n".join(lines)


def _status(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return EXIT_CONFIG
    from shipper.observe.status import status

    print(status(config, colour=sys.stdout.isatty()))
    return 0


def _run(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return EXIT_CONFIG
    setup_logging(config.log.level, config.log.format, config.log.sdk_debug)
    from shipper.agent import Agent

    return asyncio.run(Agent(config, args.config).run())


if __name__ == "__main__":
    sys.exit(main())
