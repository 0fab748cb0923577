"""The syslog presets read the lines of the published test suite of syslog_loose, the parser behind
Vector's `parse_syslog` and syslog source (its tests/test.rs, which also carries Vector's own syslog
source cases), as that suite expects, in our field names: `hostname`, `appname`, `procid` (text),
`msgid`, `structured_data` by SD-ID, the rest as `msg`. A year-less time gets this year unless that is
more than a day ahead (the suite pins 2020 and 2019 with a function; ours follows the clock)."""

from __future__ import annotations

import calendar
import time
from collections import Counter

import pytest

from shipper.parsers import MALFORMED_SD_ELEMENT, parse_rfc3164, parse_rfc5424

RSYSLOG_ORIGIN = {"origin": {"software": "rsyslogd", "swVersion": "8.32.0", "x-pid": "20506",
                             "x-info": "http://www.rsyslog.com"}}


def dated(month: int, day: int, clock: str) -> str:
    """The time as the suite expects it, in the year our clock gives a year-less date."""
    now = time.time()
    year = time.gmtime(now).tm_year
    if calendar.timegm((year, month, day, 0, 0, 0)) > now + 86_400:
        year -= 1
    return f"{year}-{month:02d}-{day:02d}T{clock}Z"


RFC3164 = {
    "parse_nginx": (
        '<190>Dec 28 16:49:07 plertrood-thinkpad-x220 nginx: 127.0.0.1 - - [28/Dec/2019:16:49:07 +0000] "GET / '
        'HTTP/1.1" 304 0 "-" "Mozilla/5.0"',
        {"facility": "local7", "severity": "info", "time": dated(12, 28, "16:49:07"),
         "hostname": "plertrood-thinkpad-x220", "appname": "nginx",
         "msg": '127.0.0.1 - - [28/Dec/2019:16:49:07 +0000] "GET / HTTP/1.1" 304 0 "-" "Mozilla/5.0"'}),
    "parse_rsyslog": (
        '<46>Jan  5 15:33:03 plertrood-ThinkPad-X220 rsyslogd:  [origin software="rsyslogd" swVersion="8.32.0" '
        'x-pid="20506" x-info="http://www.rsyslog.com"] start',
        {"facility": "syslog", "severity": "info", "time": dated(1, 5, "15:33:03"),
         "hostname": "plertrood-ThinkPad-X220", "appname": "rsyslogd", "structured_data": RSYSLOG_ORIGIN,
         "msg": "start"}),
    "parse_haproxy": (
        "<133>Jan 13 16:33:35 haproxy[73411]: Proxy sticky-servers started.",
        {"facility": "local0", "severity": "notice", "time": dated(1, 13, "16:33:35"), "appname": "haproxy",
         "procid": "73411", "msg": "Proxy sticky-servers started."}),
    "parse_3164_invalid_structured_data": (
        '<46>Jan  5 15:33:03 plertrood-ThinkPad-X220 rsyslogd:  [software="rsyslogd" swVersion="8.32.0"] start',
        {"facility": "syslog", "severity": "info", "time": dated(1, 5, "15:33:03"),
         "hostname": "plertrood-ThinkPad-X220", "appname": "rsyslogd",
         "msg": '[software="rsyslogd" swVersion="8.32.0"] start'}),
    "parse_3164_no_tag": (
        '<46>Jan  5 15:33:03 plertrood-ThinkPad-X220  [software="rsyslogd" swVersion="8.32.0"] start',
        {"facility": "syslog", "severity": "info", "time": dated(1, 5, "15:33:03"),
         "hostname": "plertrood-ThinkPad-X220", "msg": '[software="rsyslogd" swVersion="8.32.0"] start'}),
    "parse_european_chars": (
        "<46>Jan 5 10:01:00 Übergröße außerplanmäßig größenordnungsmäßig",
        {"facility": "syslog", "severity": "info", "time": dated(1, 5, "10:01:00"), "hostname": "Übergröße",
         "appname": "außerplanmäßig", "msg": "größenordnungsmäßig"}),
    "syslog_ng_default_network": (
        "<13>Feb 13 20:07:26 74794bfb6795 root[8539]: i am foobar",
        {"facility": "user", "severity": "notice", "time": dated(2, 13, "20:07:26"), "hostname": "74794bfb6795",
         "appname": "root", "procid": "8539", "msg": "i am foobar"}),
    "rsyslog_omfwd_tcp_forward_format": (
        '<190>2019-02-13T21:53:30.605850+00:00 74794bfb6795 liblogging-stdlog:  [origin software="rsyslogd" '
        'swVersion="8.24.0" x-pid="9043" x-info="http://www.rsyslog.com"] start',
        {"facility": "local7", "severity": "info", "time": "2019-02-13T21:53:30.605850+00:00",
         "hostname": "74794bfb6795", "appname": "liblogging-stdlog",
         "structured_data": {"origin": {"software": "rsyslogd", "swVersion": "8.24.0", "x-pid": "9043",
                                        "x-info": "http://www.rsyslog.com"}}, "msg": "start"}),
    "parse_missing_pri": (
        "Dec 28 16:49:07 plertrood-thinkpad-x220 nginx: 127.0.0.1 - - [28/Dec/2019:16:49:07 +0000]",
        {"time": dated(12, 28, "16:49:07"), "hostname": "plertrood-thinkpad-x220", "appname": "nginx",
         "msg": "127.0.0.1 - - [28/Dec/2019:16:49:07 +0000]"}),
    "parse_vrl": (
        "<13>Feb 13 20:07:26 74794bfb6795 root[8539]:syslog message",
        {"facility": "user", "severity": "notice", "time": dated(2, 13, "20:07:26"), "hostname": "74794bfb6795",
         "appname": "root", "procid": "8539", "msg": "syslog message"}),
}

SD_HEADER = "<13>1 2019-02-13T19:48:34+00:00 74794bfb6795 root 8449 -"
SD_FIELDS = {"facility": "user", "severity": "notice", "version": 1, "time": "2019-02-13T19:48:34+00:00",
             "hostname": "74794bfb6795", "appname": "root", "procid": "8449"}

RFC5424 = {
    "parse_5424_no_structured_data": (
        "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - BOM'su root' failed for lonvick on "
        "/dev/pts/8",
        {"facility": "auth", "severity": "crit", "version": 1, "time": "2003-10-11T22:14:15.003Z",
         "hostname": "mymachine.example.com", "appname": "su", "msgid": "ID47",
         "msg": "BOM'su root' failed for lonvick on /dev/pts/8"}, 0),
    "parse_5424_empty_structured_data": (
        '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" '
        'eventSource="" eventID="1011"] BOMAn application event log entry...',
        {"facility": "local4", "severity": "notice", "version": 1, "time": "2003-10-11T22:14:15.003Z",
         "hostname": "mymachine.example.com", "appname": "evntslog", "msgid": "ID47",
         "structured_data": {"exampleSDID@32473": {"iut": "3", "eventSource": "", "eventID": "1011"}},
         "msg": "BOMAn application event log entry..."}, 0),
    "parse_5424_multiple_structured_data (a blank after =)": (
        '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" '
        'eventSource= "Application" eventID="1011"][examplePriority@32473 class="high"] BOMAn application event',
        {"facility": "local4", "severity": "notice", "version": 1, "time": "2003-10-11T22:14:15.003Z",
         "hostname": "mymachine.example.com", "appname": "evntslog", "msgid": "ID47",
         "structured_data": {"exampleSDID@32473": {"iut": "3", "eventSource": "Application", "eventID": "1011"},
                             "examplePriority@32473": {"class": "high"}},
         "msg": "BOMAn application event"}, 0),
    "syslog_ng_network_syslog_protocol": (
        '<13>1 2019-02-13T19:48:34+00:00 74794bfb6795 root 8449 - [meta sequenceId="1" sysUpTime="37" '
        'language="EN"][origin ip="192.168.0.1" software="test"] i am foobar',
        {**SD_FIELDS, "structured_data": {"meta": {"sequenceId": "1", "sysUpTime": "37", "language": "EN"},
                                          "origin": {"ip": "192.168.0.1", "software": "test"}},
         "msg": "i am foobar"}, 0),
    "handles_incorrect_sd_element": (f"{SD_HEADER} [incorrect x] qwerty", {**SD_FIELDS, "msg": "qwerty"}, 1),
    "handles_incorrect_sd_element (x=)": (f"{SD_HEADER} [incorrect x=] qwerty", {**SD_FIELDS, "msg": "qwerty"}, 1),
    "handles_empty_sd_element": (
        f'{SD_HEADER} [non_empty x="1"][empty] qwerty',
        {**SD_FIELDS, "structured_data": {"non_empty": {"x": "1"}, "empty": {}}, "msg": "qwerty"}, 0),
    "handles_empty_sd_element (a malformed one between)": (
        f'{SD_HEADER} [non_empty x="1"][bad x][empty not_really="testing the test"] qwerty',
        {**SD_FIELDS, "structured_data": {"non_empty": {"x": "1"}, "empty": {"not_really": "testing the test"}},
         "msg": "qwerty"}, 1),
    "handles_weird_whitespace": (
        f'\n            {SD_HEADER} [meta sequenceId="1"] i am foobar\n            ',
        {**SD_FIELDS, "structured_data": {"meta": {"sequenceId": "1"}}, "msg": "i am foobar"}, 0),
    "logical_system_juniper_routers": (
        "<28>1 2020-05-22T14:59:09.250-03:00 OX-XXX-MX204 OX-XXX-CONTEUDO:rpd 6589 - - bgp_listen_accept: "
        "%DAEMON-4: Connection attempt",
        {"facility": "daemon", "severity": "warning", "version": 1, "time": "2020-05-22T14:59:09.250-03:00",
         "hostname": "OX-XXX-MX204", "appname": "OX-XXX-CONTEUDO:rpd", "procid": "6589",
         "msg": "bgp_listen_accept: %DAEMON-4: Connection attempt"}, 0),
    "parse_missing_pri_5424": (
        "1 2020-05-22T14:59:09.250-03:00 OX-XXX-MX204 OX-XXX-CONTEUDO:rpd 6589 - - bgp_listen_accept",
        {"version": 1, "time": "2020-05-22T14:59:09.250-03:00", "hostname": "OX-XXX-MX204",
         "appname": "OX-XXX-CONTEUDO:rpd", "procid": "6589", "msg": "bgp_listen_accept"}, 0),
    "parse_ipv6_hostname": (
        "<34>1 2003-10-11T22:14:15.003Z ::FFFF:129.144.52.38 su - ID47 - bananas and peas",
        {"facility": "auth", "severity": "crit", "version": 1, "time": "2003-10-11T22:14:15.003Z",
         "hostname": "::FFFF:129.144.52.38", "appname": "su", "msgid": "ID47", "msg": "bananas and peas"}, 0),
}


@pytest.mark.parametrize("case", sorted(RFC3164))
def test_rfc3164_reads_the_peer_suites_lines_as_it_expects(case):
    line, expected = RFC3164[case]

    assert parse_rfc3164(line) == expected


@pytest.mark.parametrize("case", sorted(RFC5424))
def test_rfc5424_reads_the_peer_suites_lines_as_it_expects_and_counts_what_it_leaves_out(case):
    line, expected, malformed = RFC5424[case]
    anomalies: Counter[str] = Counter()

    assert parse_rfc5424(line, anomalies) == expected
    assert anomalies[MALFORMED_SD_ELEMENT] == malformed


@pytest.mark.parametrize("line", [
    "complete and utter gobbledegook",  # parse_invalid_message: not syslog, left unparsed (counted by parse)
    "<134> Feb 29 14:07:19 myhostname sshd - - - this is my message",  # parse_invalid_date: no such day lately
])
def test_lines_the_peer_suite_refuses_are_not_parsed(line):
    year = time.gmtime().tm_year
    if line.startswith("<134>") and (calendar.isleap(year) or calendar.isleap(year - 1)):
        pytest.skip("29 February was lately a day")
    assert parse_rfc3164(line) is None
