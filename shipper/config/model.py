"""The agent's own options, and the configuration's shape: sources, transforms and sinks by id.

Which component types exist is not known here: `AgentConfig` takes any `SourceOptions` and
`SinkOptions`, and `with_components` makes the model that validates a file, with one discriminated
union per kind built from the registry (`shipper/components.py`). Unknown keys are errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal, Union

from pydantic import Field, SecretStr, create_model, field_validator, model_validator

from shipper.config.base import Options, SinkOptions, SourceOptions, TransformOptions, check_names
from shipper.config.topology import Topology
from shipper.config.units import Address, ByteSize, Duration, is_loopback, split_address


class BufferOptions(Options):
    max_size: ByteSize = Field(
        1024**3,
        description="Most bytes of records the spool holds; when full, sources pause reading (nothing is dropped).",
        ge=1024 * 1024,
    )


class ApiOptions(Options):
    address: Address = Field(
        "127.0.0.1:8686", description="host:port of /metrics, /healthz and /readyz (0.0.0.0:8686 for kubelet probes)."
    )
    tap: bool = Field(
        False, description="Serve `shipper tap` (GET /tap/<id>): records as they leave a source, transform or route "
        "output, live. What a tap shows before `redact` is what pods wrote: off by default, and only on a loopback "
        "address unless `token` is set."
    )
    token: SecretStr | None = Field(
        None, description="A bearer token /tap requires (`Authorization: Bearer ...`); e.g. `${SHIPPER_API_TOKEN}`."
    )
    unready_after: Duration = Field(
        120.0, gt=0, description="A sink that has had records to send this long and delivered none (or whose last 10 "
        "attempts failed) is not ready in /readyz, with the reason (`unreachable`, `throttled`, `denied`, `timeout`, "
        "`server_error`, `stalled`). Liveness (/healthz) never depends on it: a stuck backend must not restart the pod."
    )

    def local_endpoint(self) -> tuple[str, int]:
        """Where a client on this machine (`status`, `tap`, `top`) reaches the API: a wildcard address
        (0.0.0.0, ::) as loopback."""
        host, port = split_address(self.address)
        return ("127.0.0.1" if host in ("0.0.0.0", "::") else host), port

    def local_url(self, path: str) -> str:
        host, port = self.local_endpoint()
        return f"http://{f'[{host}]' if ':' in host else host}:{port}{path}"

    @model_validator(mode="after")
    def _tap_stays_local_or_needs_a_token(self) -> ApiOptions:
        if self.token is not None and not self.token.get_secret_value():
            raise ValueError("token is empty (an unset ${VARIABLE:-}?): leave it out, or give one")
        host = split_address(self.address)[0]
        if self.tap and self.token is None and not is_loopback(host):
            raise ValueError(f"tap on {self.address} would show records (secrets before redact) to the network: "
                             "set token, or listen on 127.0.0.1")
        return self


class LogOptions(Options):
    level: Literal["debug", "info", "warning", "error"] = Field("info", description="Least severe level written.")
    format: Literal["text", "json", "logfmt"] = Field("text", description="How each line of the agent's log looks.")
    sdk_debug: bool = Field(
        False, description="Let the AWS SDK and HTTP libraries log at `level` too (they stay at info otherwise); "
        "request and response bodies are never logged, and secrets are masked either way.",
    )


class AgentConfig(Options):
    data_dir: str = Field("/var/lib/shipper", description="Where the spool and checkpoints live.")
    buffer: BufferOptions = Field(default_factory=BufferOptions, description="The disk spool every record waits in.")
    api: ApiOptions | None = Field(None, description="The HTTP API; off unless configured.")
    log: LogOptions = Field(default_factory=LogOptions, description="The agent's own log, on stderr.")
    watch_config: bool = Field(
        False, description="Reload when the configuration file changes (a ConfigMap's symlink swap included), as "
        "on SIGHUP: an invalid file is refused and the running configuration stays. Read at start; `shipper run "
        "--watch-config` turns it on too."
    )
    shutdown_timeout: Duration = Field(
        20.0, description="On SIGTERM, how long sinks may drain before the agent exits (keep the rest on disk)."
    )
    sources: dict[str, SourceOptions] = Field(min_length=1)
    transforms: dict[str, TransformOptions] = Field(
        default_factory=dict, description="What happens to records between their sources and the spool, by id.")
    sinks: dict[str, SinkOptions] = Field(min_length=1)

    @field_validator("sources", "transforms", "sinks")
    @classmethod
    def _component_ids(cls, components: dict[str, Options]) -> dict[str, Options]:
        check_names(components, "id")
        return components

    def topology(self) -> Topology:
        return Topology(self.sources, self.transforms, self.sinks)

    @classmethod
    def with_components(cls, sources: Sequence[type[SourceOptions]], transforms: Sequence[type[TransformOptions]],
                        sinks: Sequence[type[SinkOptions]]) -> type[AgentConfig]:
        """The model whose `sources`, `transforms` and `sinks` entries are each one of these options
        classes, picked by their `type` literal."""
        fields: dict[str, Any] = {
            "sources": (dict[str, _tagged_union(sources)], Field(min_length=1)),  # type: ignore[misc]
            "transforms": (dict[str, _tagged_union(transforms)], Field(default_factory=dict)),  # type: ignore[misc]
            "sinks": (dict[str, _tagged_union(sinks)], Field(min_length=1)),  # type: ignore[misc]
        }
        return create_model("AgentConfig", __base__=cls, __module__=cls.__module__, **fields)


def _tagged_union(options: Sequence[type[Options]]) -> Any:
    """`A | B | C` tagged by their `type` field; a type made at run time, which no checker can see."""
    return Annotated[Union[tuple(options)], Field(discriminator="type")]  # noqa: UP007
