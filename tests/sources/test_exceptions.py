"""`multiline: {mode: exceptions}`: the stack traces real runtimes print (python3, java, node, go, run
here) and the ones GKE's detect-exceptions plugin is tested with each become one record, CRI-framed
and split by the kubelet into 16 KiB pieces, with stdout interleaved; ordinary lines pass at once."""

from __future__ import annotations

import re
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipper.sources.files.config import LANGUAGES, MultilineOptions
from shipper.sources.files.container_formats import ContainerDecoder
from shipper.sources.files.exceptions import RULES, ExceptionsDecoder
from shipper.sources.files.formats import PlainDecoder

NOW = 1_795_342_500_000_000_000
CRI_PIECE = 16384  # the kubelet's largest CRI line: longer lines are split into P pieces and an F

PROGRAMS = {
    "python": ("t.py", ["python3", "t.py"], """
        def inner(x):
            return 1 / x
        def outer():
            try:
                inner(0)
            except ZeroDivisionError as error:
                raise ValueError("wrapped") from error
        print("before", flush=True)
        outer()
        """),
    "java": ("T.java", ["java", "T.java"], """
        public class T {
            static void inner() { throw new IllegalStateException("boom " + "x".repeat(MESSAGE)); }
            static void outer() {
                try { inner(); } catch (RuntimeException e) { throw new RuntimeException("wrapped", e); }
            }
            public static void main(String[] args) { System.out.println("before"); outer(); }
        }
        """),
    "node": ("t.js", ["node", "t.js"], """
        console.log("before");
        function inner() { throw new TypeError("boom"); }
        inner();
        """),
    "go": ("t.go", ["sh", "-c", "go build -o t t.go && GOTRACEBACK=all ./t"], """
        package main

        import "fmt"

        func inner(xs []int) int { return xs[3] }

        func main() {
        \tfmt.Println("before")
        \tgo func() { select {} }()
        \tinner([]int{1})
        }
        """),
}


def run_program(tmp_path: Path, language: str, message_size: int = 0) -> tuple[list[str], list[str]]:
    """The program's stdout and stderr lines, as the runtime printed them."""
    name, command, source = PROGRAMS[language]
    (tmp_path / name).write_text(textwrap.dedent(source).replace("MESSAGE", str(message_size)))
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(tmp_path)})
    assert done.returncode != 0, f"{language} did not fail: {done.stderr}"
    return done.stdout.splitlines(), done.stderr.splitlines()


def cri(stream: str, text: str) -> list[str]:
    """One line as the kubelet writes it: pieces of 16 KiB, all `P` but the last, `F`."""
    pieces = [text[i:i + CRI_PIECE] for i in range(0, len(text), CRI_PIECE)] or [""]
    return [f"2026-11-22T10:15:00.000000000Z {stream} {'F' if i == len(pieces) - 1 else 'P'} {piece}"
            for i, piece in enumerate(pieces)]


def interleaved(trace: list[str]) -> tuple[list[str], list[str]]:
    """The trace on stderr with an ordinary stdout line after each of its lines; and those lines."""
    framed, ticks = [], []
    for i, line in enumerate(trace):
        framed += cri("stderr", line)
        ticks.append(f"tick {i}")
        framed += cri("stdout", ticks[-1])
    return framed, ticks


def decoder(languages: list[str] | None = None, max_lines: int = 1000, max_bytes: int = 1 << 20,
            inner: Any = None) -> ExceptionsDecoder:
    return ExceptionsDecoder(inner or ContainerDecoder(1 << 20), languages or list(LANGUAGES), 1.0, max_bytes,
                             max_lines)


def messages(records: list[Any], stream: str | None = None) -> list[str]:
    return [r[1] for r in records if stream is None or r[2]["stream"] == stream]


def the_trace(stderr: list[str], first: str) -> tuple[list[str], list[str], list[str]]:
    """Lines before the trace, the trace (from the line starting with `first` to its last frame), after."""
    start = next(i for i, line in enumerate(stderr) if line.startswith(first))
    end = max(i for i, line in enumerate(stderr) if line.startswith("    at ")) + 1
    return stderr[:start], stderr[start:end], stderr[end:]


@pytest.mark.parametrize("language", ["python", "java", "go"])
def test_an_uncaught_exception_of_a_real_runtime_is_one_record_and_stdout_passes_meanwhile(tmp_path, language):
    stdout, stderr = run_program(tmp_path, language)
    framed, ticks = interleaved(stderr)
    grouping = decoder()

    read = grouping.decode(framed, NOW)
    flushed = grouping.flush()

    assert messages(read, "stdout") == ticks  # every ordinary line left as it was read
    assert messages(read + flushed, "stderr") == ["\n".join(stderr)]
    assert stdout == ["before"]


def test_nodes_trace_is_one_record_and_the_source_lines_it_prints_before_stay_lines(tmp_path):
    _, stderr = run_program(tmp_path, "node")
    before, trace, after = the_trace(stderr, "TypeError: boom")
    framed, ticks = interleaved(stderr)
    grouping = decoder()

    out = grouping.decode(framed, NOW) + grouping.flush()

    assert messages(out, "stderr") == [*before, "\n".join(trace), *after]
    assert messages(out, "stdout") == ticks
    assert len(trace) >= 5 and after[-1].startswith("Node.js v")


def test_a_trace_whose_first_line_the_kubelet_split_into_16_kib_pieces_is_one_record(tmp_path):
    _, stderr = run_program(tmp_path, "java", message_size=40_000)
    framed = [piece for line in stderr for piece in cri("stderr", line)]
    grouping = decoder()

    out = grouping.decode(framed, NOW) + grouping.flush()

    assert sum(line.split(" ")[2] == "P" for line in framed) == 2
    assert messages(out) == ["\n".join(stderr)]
    assert max(map(len, stderr)) > 40_000


def test_a_language_left_out_is_not_grouped(tmp_path):
    _, stderr = run_program(tmp_path, "go")
    grouping = decoder(["python", "php"])

    out = grouping.decode([piece for line in stderr for piece in cri("stderr", line)], NOW) + grouping.flush()

    assert messages(out) == stderr


def test_an_open_trace_survives_a_restart_through_the_carry(tmp_path):
    _, stderr = run_program(tmp_path, "java")
    framed = [piece for line in stderr for piece in cri("stderr", line)] + cri("stderr", "after")
    first = decoder()
    out = first.decode(framed[:4], NOW)

    second = decoder()
    second.restore(first.carry())
    out += second.decode(framed[4:], NOW) + second.flush()

    assert messages(out) == ["\n".join(stderr), "after"]


def test_a_trace_is_cut_at_max_lines_and_max_bytes_and_the_cut_is_counted():
    trace = ["java.lang.IllegalStateException: boom", *(f"\tat Frame.f{i}(F.java:{i})" for i in range(9))]
    by_lines, by_bytes = decoder(max_lines=4, inner=PlainDecoder()), decoder(max_bytes=1024, inner=PlainDecoder())

    lines_out = by_lines.decode(trace, NOW) + by_lines.flush()
    bytes_out = by_bytes.decode([trace[0], "\tat " + "x" * 980, "\tat y"], NOW) + by_bytes.flush()

    assert messages(lines_out) == ["\n".join(trace[:4]), *trace[4:]]  # the frames after the cut start no trace
    assert by_lines.split == 1
    assert messages(bytes_out) == [trace[0] + "\n\tat " + "x" * 980, "\tat y"]  # 1,022 bytes, then 1,028


def test_only_a_trace_quiet_for_the_timeout_is_shipped_by_it():
    grouping = decoder(inner=PlainDecoder())
    grouping.decode(["Traceback (most recent call last):", '  File "a.py", line 1, in <module>'], NOW)
    touched = grouping.groups[None].touched

    assert grouping.expired(touched + 0.9) == []
    assert messages(grouping.expired(touched + 1.0)) == [
        'Traceback (most recent call last):\n  File "a.py", line 1, in <module>']
    assert grouping.groups == {}


# Published test vectors of GoogleCloudPlatform/fluent-plugin-detect-exceptions (Apache-2.0),
# test/plugin/test_exception_detector.rb (some paths shortened): each must come out as one record
# between ordinary lines.
VECTORS = {
    "java": """Jul 09, 2015 3:23:29 PM com.google.devtools.feeder.MakeLog: RuntimeException: Run from this message!
  at com.my.app.Object.do$a1(MakeLog.java:50)
  at java.lang.Thing.call(Thing.java:10)
  at com.my.app.Object.help(MakeLog.java:40)
  at sun.javax.API.method(API.java:100)
  at com.jetty.Framework.main(MakeLog.java:30)""",
    "java_caused_by": """javax.servlet.ServletException: Something bad happened
    at com.example.myproject.OpenSessionInViewFilter.doFilter(OpenSessionInViewFilter.java:60)
    at org.mortbay.thread.QueuedThreadPool$PoolThread.run(QueuedThreadPool.java:582)
Caused by: com.example.myproject.MyProjectServletException
    at com.example.myproject.MyServlet.doPost(MyServlet.java:169)
    at com.example.myproject.OpenSessionInViewFilter.doFilter(OpenSessionInViewFilter.java:30)
    ... 27 more""",
    "node": """ReferenceError: myArray is not defined
  at next (/app/node_modules/express/lib/router/index.js:256:14)
  at /app/node_modules/express/lib/router/index.js:615:15
  at Layer.handle [as handle_request] (/app/node_modules/express/lib/router/layer.js:95:5)
  at /app/app.js:52:3""",
    "node_client": """Error
    at bls (<anonymous>:3:9)
    at <anonymous>:6:4
    at a_function_name
    at Object.InjectedScript.evaluate (<anonymous>)""",
    "node_v8": """V8 errors stack trace
  eval at Foo.a (eval at Bar.z (myscript.js:10:3))
  at new Contructor.Name (native)
  at Type.main(sample(copy).js:6:4)""",
    "python": """Traceback (most recent call last):
  File "/base/data/home/runtimes/python27/python27_lib/webapp2.py", line 1535, in __call__
    rv = self.handle_exception(request, response, e)
  File "/base/data/home/apps/s~nearfieldspy/1.378705245900539993/nearfieldspy.py", line 5, in get
    raise Exception('spam', 'eggs')
Exception: ('spam', 'eggs')""",
    "php": """exception 'Exception' with message 'Custom exception' in /home/joe/work/test-php/test.php:5
Stack trace:
#0 /home/joe/work/test-php/test.php(9): func1()
#1 /home/joe/work/test-php/test.php(13): func2()
#2 {main}""",
    "php_gae": """PHP Fatal error:  Uncaught exception 'Exception' with message 'message' in /base/errors.php:60
Stack trace:
#0 [internal function]: ErrorEntryGenerator::{closure}()
#1 /base/index.php(36): ErrorEntry->raise()
#2 {main}
  thrown in /base/errors.php on line 60""",
    "go": """panic: my panic

goroutine 4 [running]:
panic(0x45cb40, 0x47ad70)
\t/usr/local/go/src/runtime/panic.go:542 +0x46c fp=0xc42003f7b8 sp=0xc42003f710 pc=0x422f7c
main.main.func1(0xc420024120)
\tfoo.go:6 +0x39 fp=0xc42003f7d8 sp=0xc42003f7b8 pc=0x451339
created by main.main
\tfoo.go:5 +0x58

goroutine 1 [chan receive]:
main.main()
\tfoo.go:9 +0x6f fp=0xc420053f80 sp=0xc420053f50 pc=0x4512ef""",
    "go_signal": """panic: runtime error: invalid memory address or nil pointer dereference
[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x7fd34f]

goroutine 5 [running]:
panics.nilPtrDereference()
\tpanics/panics.go:33 +0x1f
created by main.main
\tserver.go:20 +0x91""",
    "dotnet": """System.Collections.Generic.KeyNotFoundException: The given key was not present in the dictionary.
  at File3.Consolidator_Class.Function3 (Int32 param_3) [0x0000f] in /home/Csharp/another file.csharp:27
  at File2.Processor.Random2 () [0x00037] in /home/Csharp/File2.csharp:28
  at System.Threading.Thread.StartInternal () [0x00000] in <filename unknown>:0""",
    "ruby": """ NoMethodError (undefined method `resursivewordload' for #<BooksController:0x007f8dd9a0c738>):
  app/controllers/books_controller.rb:69:in `recursivewordload'
  app/controllers/books_controller.rb:75:in `loadword'
  config/error_reporting_logger.rb:62:in `tagged'""",
    "ruby_rails": """ ActionController::RoutingError (No route matches [GET] "/settings"):
  \n  actionpack (5.1.4) lib/action_dispatch/middleware/debug_exceptions.rb:63:in `call'
  puma (3.10.0) lib/puma/thread_pool.rb:120:in `block in spawn_thread'""",
}
# Ours: what today's runtimes print that the vectors above predate.
VECTORS |= {
    "dotnet_inner": """Unhandled exception. System.InvalidOperationException: outer
 ---> System.Exception: inner
   at Program.Inner() in /src/Program.cs:line 5
   --- End of inner exception stack trace ---
   at Program.Main() in /src/Program.cs:line 10""",
    "ruby_raised": """t.rb:2:in `inner': boom (RuntimeError)
\tfrom t.rb:5:in `outer'
\tfrom t.rb:8:in `<main>'""",
    "php_uncaught": """PHP Fatal error:  Uncaught Exception: boom in /app/t.php:3
Stack trace:
#0 /app/t.php(6): inner()
#1 {main}
  thrown in /app/t.php on line 3""",
    "go_fatal": """fatal error: all goroutines are asleep - deadlock!

goroutine 1 [chan receive]:
main.main()
\t/app/main.go:5 +0x2d""",
}
LANGUAGE_OF = {name: name.split("_")[0] for name in VECTORS}


@pytest.mark.parametrize("name", sorted(VECTORS))
@pytest.mark.parametrize("chosen", ["its own", "all"])
def test_each_published_trace_is_one_record_between_ordinary_lines(name, chosen):
    trace = VECTORS[name].split("\n")
    grouping = decoder([LANGUAGE_OF[name]] if chosen == "its own" else None, inner=PlainDecoder())

    out = grouping.decode(["INFO before", *trace, "INFO after", "INFO later"], NOW) + grouping.flush()

    assert messages(out) == ["INFO before", "\n".join(trace), "INFO after", "INFO later"]


def test_two_traces_in_a_row_are_two_records():
    java, python = VECTORS["java_caused_by"].split("\n"), VECTORS["python"].split("\n")
    grouping = decoder(inner=PlainDecoder())

    out = grouping.decode([*java, *python, *java], NOW) + grouping.flush()

    assert messages(out) == ["\n".join(java), "\n".join(python), "\n".join(java)]


def test_every_language_the_options_name_has_rules():
    assert set(RULES) == set(LANGUAGES)


@pytest.mark.parametrize(("options", "reason"), [
    ({}, "give start_pattern (mode: pattern), or mode: exceptions"),
    ({"mode": "pattern"}, "mode: pattern needs start_pattern"),
    ({"mode": "exceptions", "start_pattern": "^x"}, "start_pattern goes with mode: pattern"),
    ({"mode": "exceptions", "languages": ["cobol"]}, "cobol"),
])
def test_multiline_options_that_do_not_go_together_are_refused(options, reason):
    with pytest.raises(ValueError, match=re.escape(reason)):
        MultilineOptions.model_validate(options)


def test_start_pattern_alone_means_mode_pattern():
    assert MultilineOptions.model_validate({"start_pattern": "^x"}).mode == "pattern"


trace_lines = st.sampled_from(sorted({line for text in VECTORS.values() for line in text.split("\n")}))
any_line = st.text(st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)), max_size=30)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["stdout", "stderr"]), st.one_of(trace_lines, trace_lines, any_line)),
                max_size=60), st.integers(1, 6), st.integers(2, 6))
def test_grouping_never_loses_reorders_or_invents_a_line_of_either_stream(lines, chunks, max_lines):
    """Trace lines of every language in any order, with any text, both streams, read by an agent
    restarted between any two chunks: each stream's records are its lines, in order, once."""
    framed = [f"2026-11-22T10:15:00.000000000Z {stream} F {text}" for stream, text in lines]
    grouping, out = decoder(max_lines=max_lines, max_bytes=1024), []
    size = max(1, len(framed) // chunks)
    for start in range(0, len(framed), size):
        carry = grouping.carry()
        grouping = decoder(max_lines=max_lines, max_bytes=1024)
        grouping.restore(carry)
        out += grouping.decode(framed[start:start + size], NOW)
    out += grouping.flush()

    for stream in ("stdout", "stderr"):
        assert "\n".join(messages(out, stream)) == "\n".join(text for s, text in lines if s == stream)
    assert all(r[1].count("\n") < max_lines for r in out)
