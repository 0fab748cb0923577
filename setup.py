"""The compiled kernels (shipper/kernels/): built where a compiler and the Python headers are; an
install without them goes on, and the agent runs the Python reference of each kernel."""

from __future__ import annotations

import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# The fuzz build with AddressSanitizer is scripts/fuzz.sh's own gcc command, not this one.
STRICT = ["-O2", "-std=c11", "-Wall", "-Wextra", "-Werror=implicit-function-declaration", "-fno-strict-aliasing"]


class OptionalBuildExt(build_ext):
    """A kernel that cannot be compiled is left out with a warning, never failing the install."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as error:  # no compiler at all
            self._skipped(error)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as error:  # no Python headers, or a compiler that refuses
            self._skipped(error, ext.name)

    @staticmethod
    def _skipped(error: Exception, name: str = "the kernels") -> None:
        print(f"warning: {name} not compiled ({error}); the Python reference runs instead", file=sys.stderr)


def kernel(name: str, libraries: tuple[str, ...] = ()) -> Extension:
    return Extension(f"shipper.kernels._{name}", [f"shipper/kernels/_{name}.c"], extra_compile_args=STRICT,
                     libraries=list(libraries), depends=["shipper/kernels/text.h"])


setup(
    # _journal links libsystemd (libsystemd-dev, which the journald extra's systemd-python needs too);
    # without it that kernel alone is left out
    ext_modules=[kernel("cri"), kernel("syslog"), kernel("cloudwatch"), kernel("journal", ("systemd",)),
                 kernel("parse"), kernel("forward"),
                 kernel("ndjson"), kernel("otlp")],
    cmdclass={"build_ext": OptionalBuildExt},
)
