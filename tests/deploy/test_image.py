"""The agent's OCI image (`make image`): one index of an amd64 and an arm64 image, built on this machine
without a container engine (arm64 under qemu-user), the same digest from the same sources, non-root by
default, and the agent runs from each root filesystem (arm64's under qemu-user, as on a Graviton node),
its compiled kernels giving there exactly what the Python reference gives."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import shipper
from peers.registry import Registry
from tests.agent_process import AgentProcess, output_messages, wait_for, write_config
from tests.fuzz.replay import write_journals

ROOT = Path(__file__).resolve().parents[2]
NOBODY = "65534:65534"
ARCHITECTURES = {"amd64": ("linux", "amd64", None, 62), "arm64": ("linux", "arm64", "v8", 183)}  # ELF e_machine
CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"
KERNELS = "compiled kernels: cloudwatch, cri, forward, journal, ndjson, otlp, parse, syslog"

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="mmdebstrap's root mode and chroot need root"),
              pytest.mark.timeout(2700)]  # two builds of two architectures, arm64 under emulation: ~20 min


def build(output: Path) -> Path:
    subprocess.run(["bash", str(ROOT / "image" / "build.sh"), str(output)], check=True, timeout=1800,
                   stdout=subprocess.DEVNULL)
    return output


def blob(layout: Path, digest: str) -> dict:
    return json.loads((layout / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_text())


def tagged(layout: Path, tag: str) -> dict:
    """The descriptor the layout's index.json gives `tag`."""
    (entry,) = [entry for entry in json.loads((layout / "index.json").read_text())["manifests"]
                if entry["annotations"]["org.opencontainers.image.ref.name"] == tag]
    return entry


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> tuple[Path, Path]:
    """Two independent builds of the same checkout."""
    base = tmp_path_factory.mktemp("image")
    return build(base / "first"), build(base / "second")


@pytest.fixture(scope="module", params=sorted(ARCHITECTURES))
def rootfs(builds, tmp_path_factory, request) -> Path:
    """Each architecture's root filesystem as a runtime unpacks it (owners kept: we are root)."""
    bundle = tmp_path_factory.mktemp("bundle") / "bundle"
    subprocess.run(["umoci", "unpack", "--image", f"{builds[0] / 'oci'}:{shipper.__version__}-{request.param}",
                    str(bundle)], check=True, capture_output=True)
    root = bundle / "rootfs"
    machine = int.from_bytes((root / "usr" / "bin" / "python3.11").read_bytes()[18:20], "little")
    assert machine == ARCHITECTURES[request.param][3], f"{request.param}'s python is for ELF machine {machine}"
    return root


def in_image(rootfs: Path, *command: str, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CHROOT, f"--userspec={NOBODY}", str(rootfs), *command],
                          capture_output=True, text=True, timeout=timeout, env={"PATH": "/usr/bin:/bin"})


def test_the_same_sources_build_the_same_image_digest(builds):
    first, second = builds
    index = tagged(first / "oci", shipper.__version__)

    assert index == tagged(second / "oci", shipper.__version__)
    assert (first / "digest").read_text().strip() == index["digest"]


def test_one_tag_names_an_index_of_an_amd64_and_an_arm64_image(builds):
    layout = builds[0] / "oci"
    index = tagged(layout, shipper.__version__)

    entries = blob(layout, index["digest"])["manifests"]

    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert [(e["platform"]["os"], e["platform"]["architecture"], e["platform"].get("variant")) for e in entries] == [
        spec[:3] for spec in ARCHITECTURES.values()]
    assert [e["digest"] for e in entries] == [
        tagged(layout, f"{shipper.__version__}-{arch}")["digest"] for arch in ARCHITECTURES]


def test_the_image_published_as_the_docs_say_keeps_its_digest(builds, tmp_path):
    digest = (builds[0] / "digest").read_text().strip()
    registry = Registry(tmp_path).start()
    try:
        subprocess.run(["skopeo", "--insecure-policy", "copy", "--quiet", "--all", "--preserve-digests",
                        "--dest-tls-verify=false", f"oci:{builds[0] / 'oci'}:{shipper.__version__}",
                        f"docker://{registry.address}/shipper:{shipper.__version__}"],
                       check=True, capture_output=True, timeout=300)

        assert registry.manifest_digest("shipper", shipper.__version__) == digest
        assert registry.manifest_digest("shipper", digest) == digest  # pullable by the pinned digest
        for arch in ARCHITECTURES:  # and every architecture's image with it
            image = tagged(builds[0] / "oci", f"{shipper.__version__}-{arch}")["digest"]
            assert registry.manifest_digest("shipper", image) == image
    finally:
        registry.stop()


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_the_image_runs_the_agent_as_nobody_by_default(builds, arch):
    layout = builds[0] / "oci"

    manifest = blob(layout, tagged(layout, f"{shipper.__version__}-{arch}")["digest"])
    config = blob(layout, manifest["config"]["digest"])

    assert config["config"]["User"] == NOBODY
    assert config["config"]["Entrypoint"] == ["/opt/shipper/bin/shipper"]
    assert config["config"]["Cmd"] == ["run", "--config", "/etc/shipper/shipper.yaml"]
    assert config["config"]["Labels"]["org.opencontainers.image.version"] == shipper.__version__
    assert (config["os"], config["architecture"]) == ARCHITECTURES[arch][:2]


def test_the_image_has_the_agent_with_the_journald_extra_and_no_installer(rootfs):
    version = in_image(rootfs, "/opt/shipper/bin/shipper", "--version")
    journald = in_image(rootfs, "/opt/shipper/bin/python", "-c", "import systemd.journal, kubernetes")

    assert version.returncode == 0 and shipper.__version__ in version.stdout, version.stderr
    assert version.stdout.splitlines()[1] == KERNELS  # built in the image's build stage, for its architecture
    assert journald.returncode == 0, journald.stderr
    assert not (rootfs / "usr" / "bin" / "apt").exists()
    assert not list((rootfs / "opt" / "shipper").glob("lib/python3*/site-packages/pip"))


def test_the_kernels_built_for_each_architecture_give_exactly_the_references_output(rootfs):
    check = rootfs / "tmp" / "kernels-check"
    shutil.rmtree(check, ignore_errors=True)
    shutil.copytree(ROOT / "tests" / "fuzz" / "corpus", check / "corpus")
    for script in ("targets.py", "replay.py"):
        shutil.copy(ROOT / "tests" / "fuzz" / script, check / script)
    journals = write_journals(check / "corpus", 300, 1, check / "journals")  # the image has no journal writer

    replay = in_image(rootfs, "/opt/shipper/bin/python", "/tmp/kernels-check/replay.py", "/tmp/kernels-check/corpus",
                      "2000", "1", "/tmp/kernels-check/journals", timeout=600)

    assert replay.returncode == 0, replay.stdout + replay.stderr
    ran = dict(line.split(": ", 1) for line in replay.stdout.splitlines())
    assert set(ran) == {f"{name}_kernel" for name in KERNELS.split(": ")[1].split(", ")}
    assert all(said.endswith(" inputs") for said in ran.values()), ran
    assert ran["journal_kernel"] == f"{journals} inputs" and journals > 300


def test_the_agent_in_the_image_ships_a_file_to_the_console(rootfs, tmp_path):
    logs = rootfs / "var" / "log" / "app"
    logs.mkdir(parents=True, exist_ok=True)
    lines = [f"line {n} from inside the image" for n in range(50)]
    (logs / "app.log").write_text("".join(line + "\n" for line in lines))
    write_config(rootfs / "tmp" / "shipper.yaml", {
        "data_dir": "/tmp/shipper-data",
        "sources": {"app": {"type": "file", "include": ["/var/log/app/*.log"]}},
        "sinks": {"out": {"type": "console", "inputs": ["app"], "encoding": "json"}},
    })
    output = tmp_path / "out.jsonl"

    with open(output, "wb") as stdout:
        agent = AgentProcess(tmp_path / "host-side.yaml", stdout, command=[
            CHROOT, f"--userspec={NOBODY}", str(rootfs),
            "/opt/shipper/bin/shipper", "run", "--config", "/tmp/shipper.yaml"])
        wait_for(lambda: len(output_messages(output)) >= len(lines) or agent.process.poll() is not None, 120,
                 "the lines on the console")
        code = agent.terminate(timeout=60)

    assert output_messages(output) == lines, agent.log()
    assert code == 0, agent.log()
