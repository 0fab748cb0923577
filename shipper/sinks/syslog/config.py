"""Options of the `syslog` sink: RFC 5424 over TLS (RFC 5425) to Papertrail or any receiver."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from shipper.config.base import SinkOptions
from shipper.config.tls import TlsOptions
from shipper.config.units import Address, ByteSize, Duration, FieldPath, split_address
from shipper.severity import FACILITIES, SEVERITIES
from shipper.templates import Template

SD_NAME = re.compile(r'^[!#-<>-\\^-~]{1,32}$')  # printable ASCII except space, '=', ']' and '"'


class SyslogOptions(SinkOptions):
    type: Literal["syslog"]
    address: Address = Field(description="host:port of the receiver, e.g. logs.papertrailapp.com:12345.")
    mode: Literal["tls", "tcp"] = Field("tls", description="`tls` (RFC 5425); `tcp` only when you mean plain text.")
    tls: TlsOptions = Field(default_factory=TlsOptions, description="How the receiver's TLS is checked (mode: tls).")
    framing: Literal["octet_counting", "newline"] = Field(
        "octet_counting", description="`octet_counting` (RFC 5425/6587) carries any byte; `newline` ends each message "
        "with LF, so newlines inside a message are handled as `newlines` says."
    )
    newlines: Literal["escape", "split"] = Field(
        "escape", description="With newline framing: `escape` writes LF inside a message as `\\n`; `split` sends "
        "each line as its own message."
    )
    facility: Literal[FACILITIES] = Field("user", description="Facility of every message.")  # type: ignore[valid-type]
    severity: Literal[SEVERITIES] = Field(  # type: ignore[valid-type]
        "info", description="Severity of records without one of their own (stderr is err; journald keeps PRIORITY)."
    )
    severity_field: FieldPath | None = Field(
        None, description="A field holding each record's severity (as Fluent Bit's `syslog_severity_key`): a number "
        "0-7, a syslog name, or a level name in any case: trace and debug -> debug, info, notice, warn and warning "
        "-> warning, error and err -> err, crit, critical and fatal -> crit, alert, emerg and panic -> emerg. A "
        "value it cannot read is counted (`shipper_input_anomalies_total{kind=\"unknown_severity\"}`) and "
        "`severity` applies; without the field, records keep the default rules.",
    )
    severity_map: dict[str, Literal[SEVERITIES]] = Field(  # type: ignore[valid-type]
        default_factory=dict, description="Level names of your own, or other meanings for the names above, e.g. "
        "{\"W\": \"warning\", \"verbose\": \"debug\"} (matched in any case).",
    )
    facility_field: FieldPath | None = Field(
        None, description="A field holding each record's facility (as Fluent Bit's `syslog_facility_key`): a "
        "number 0-23 or a facility name in any case. A value it cannot read is counted "
        "(`kind=\"unknown_facility\"`) and `facility` applies.",
    )
    hostname: str = Field("{host}", description="HOSTNAME template.")
    app_name: str = Field("{kubernetes.container_name}", description="APP-NAME template (cut to 48 characters).")
    procid: str = Field("-", description="PROCID template.")
    msgid: str = Field("-", description="MSGID template.")
    structured_data: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="SD elements: {sd-id: {param: template}}, e.g. "
        "{\"k8s@32473\": {\"pod\": \"{kubernetes.pod_name}\"}}; a param whose field is missing is left out.",
    )
    max_message_size: ByteSize = Field(64 * 1024, ge=480, description="Largest message, header included.")
    oversize: Literal["split", "truncate"] = Field(
        "split", description="A longer message is `split` into several (never dropped) or `truncate`d; counted."
    )
    connect_timeout: Duration = Field(10.0, gt=0, description="Longest a connection (TCP and TLS handshake) may take.")
    write_timeout: Duration = Field(30.0, gt=0, description="A write that cannot finish in this long is a failure.")
    idle_reconnect: Duration = Field(
        60.0, gt=0, description="A connection idle longer than this is replaced before the next write: receivers "
        "and load balancers drop idle connections without telling (remote_syslog2 #176)."
    )
    settle_time: Duration = Field(
        1.0, ge=0, description="How long a written batch must go without a connection error before it is "
        "acknowledged to the spool (a reset or close in that window sends it again)."
    )


    @field_validator("hostname", "app_name", "procid", "msgid")
    @classmethod
    def _template(cls, value: str) -> str:
        Template(value)
        return value

    @field_validator("structured_data")
    @classmethod
    def _sd(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for sd_id, params in value.items():
            for name in (sd_id, *params):
                if not SD_NAME.match(name):
                    raise ValueError(f"{name!r} is not an SD name (1-32 printable ASCII, no space, =, ] or \")")
            for template in params.values():
                Template(template)
        return value

    def templates(self) -> dict[str, Template]:
        found = {name: Template(getattr(self, name), self.layout)
                 for name in ("hostname", "app_name", "procid", "msgid")}
        for sd_id, params in self.structured_data.items():
            found.update({f"structured_data.{sd_id}.{param}": Template(t, self.layout) for param, t in params.items()})
        return found

    def environment_issues(self) -> list[tuple[str, str]]:
        return self.tls.environment_issues() if self.mode == "tls" else []

    @property
    def host(self) -> str:
        return split_address(self.address)[0]

    @property
    def port(self) -> int:
        return split_address(self.address)[1]
