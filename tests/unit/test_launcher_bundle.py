"""The launcher's bundle (scripts/write-launcher): pyrunc's compiled modules
in one file, served by a finder first on sys.meta_path. It may only ever be
faster: a module whose source changed, one it does not hold, a bundle for
another interpreter or a missing one, and a forked child that finds another
file at the bundle's path (a container's rootfs) all take the normal import,
and what it serves looks to everyone like a normally imported module
(__file__, __cached__, __path__, __spec__, source lines in tracebacks).

A throwaway package (hpdemo) in a temp dir stands in for pyrunc, so the
tests can edit and delete its sources; the last tests run the real launcher
written for this checkout. Each import runs in a fresh `python -I -S`, as the
launcher does."""
from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys

import pytest

from tests import support

WRITER = support.REPO / "scripts" / "write-launcher"

# what every module tells about itself, as JSON on stdout
PROBE = """
import json, sys, traceback
out = {}
for name in NAMES:
    try:
        mod = __import__(name, fromlist=["_"])
    except ImportError as e:
        out[name] = {"error": type(e).__name__}
        continue
    spec = mod.__spec__
    out[name] = {
        "loader": type(mod.__loader__).__name__,
        "is_source_loader": isinstance(mod.__loader__, sys.modules["_frozen_importlib_external"].SourceFileLoader),
        "file": mod.__file__, "cached": mod.__cached__, "path": getattr(mod, "__path__", None),
        "origin": spec.origin, "has_location": spec.has_location, "parent": spec.parent,
        "search": spec.submodule_search_locations and list(spec.submodule_search_locations),
        "value": getattr(mod, "VALUE", None),
        "source": mod.__loader__.get_source(name).splitlines()[0],
    }
    if hasattr(mod, "boom"):
        try:
            mod.boom()
        except ZeroDivisionError:
            out[name]["traceback"] = traceback.format_exc()
try:
    import os
    os.fstat(3)
    out["_fd3_open"] = True
except OSError:
    out["_fd3_open"] = False
print(json.dumps(out))
"""

SOURCES = {
    "hpdemo/__init__.py": '"""demo package"""\nVALUE = "pkg"\n',
    "hpdemo/a.py": '"""module a"""\nVALUE = "a"\n\n\ndef boom():\n    return 1 / 0  # the line a traceback shows\n',
    "hpdemo/sub/__init__.py": '"""subpackage"""\n',
    "hpdemo/sub/b.py": '"""module b"""\nVALUE = "b"\n',
}
NAMES = ["hpdemo", "hpdemo.a", "hpdemo.sub", "hpdemo.sub.b"]


@pytest.fixture(scope="module")
def writer():
    """scripts/write-launcher as a module (it has no .py suffix)."""
    loader = importlib.machinery.SourceFileLoader("write_launcher", str(WRITER))
    spec = importlib.util.spec_from_loader("write_launcher", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


@pytest.fixture
def demo(tmp_path, writer):
    """(tmp dir holding hpdemo/, its bundle's path), the bundle written."""
    for rel, text in SOURCES.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    bundle = tmp_path / "demo.bundle"
    writer.write_bundle(str(bundle), writer.package_modules(str(tmp_path / "hpdemo"), "hpdemo"))
    return tmp_path, bundle


def probe(writer, top, bundle, names=NAMES, extra=""):
    """Import `names` in a fresh python -I -S, with the launcher's bundle lines
    for `bundle` (None: without them); what PROBE reports."""
    code = f"import sys\nsys.path.insert(0, {str(top)!r})\n"
    if bundle is not None:
        code += writer.stub(str(bundle))
    code += extra + f"NAMES = {names!r}\n" + PROBE
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_bundled_modules_look_like_normally_imported_ones(writer, demo):
    top, bundle = demo
    normal = probe(writer, top, None)
    bundled = probe(writer, top, bundle)
    for name in NAMES:
        assert normal[name]["loader"] == "SourceFileLoader"
        assert bundled[name]["loader"] == "BundledLoader", name
        assert bundled[name]["is_source_loader"]
        for key in ("file", "cached", "path", "origin", "has_location", "parent", "search", "value", "source"):
            assert bundled[name][key] == normal[name][key], (name, key)
    assert bundled["hpdemo.sub"]["path"] == [str(top / "hpdemo" / "sub")]
    assert bundled["hpdemo.a"]["cached"] == importlib.util.cache_from_source(str(top / "hpdemo" / "a.py"))
    # the traceback names the source file and shows its line
    assert f'File "{top / "hpdemo" / "a.py"}", line 6, in boom' in bundled["hpdemo.a"]["traceback"]
    assert "return 1 / 0  # the line a traceback shows" in bundled["hpdemo.a"]["traceback"]


def test_the_bundle_holds_no_fd(writer, demo):
    """The caller's fds from 3 on are pyrunc's to check (--preserve-fds N with
    fd 3 not open must fail): reading the bundle must not take fd 3 for good."""
    top, bundle = demo
    got = probe(writer, top, bundle)
    assert got["hpdemo.sub.b"]["loader"] == "BundledLoader"
    assert got["_fd3_open"] is False


def test_an_edited_source_is_imported_from_the_source(writer, demo):
    top, bundle = demo
    (top / "hpdemo" / "a.py").write_text(SOURCES["hpdemo/a.py"].replace('"a"', '"edited"'))
    got = probe(writer, top, bundle)
    assert got["hpdemo.a"]["loader"] == "SourceFileLoader"
    assert got["hpdemo.a"]["value"] == "edited"
    assert got["hpdemo.sub.b"]["loader"] == "BundledLoader"  # the others still come from the bundle


def test_a_source_touched_but_the_same_size_is_imported_from_the_source(writer, demo):
    top, bundle = demo
    path = top / "hpdemo" / "sub" / "b.py"
    path.write_text(SOURCES["hpdemo/sub/b.py"].replace('"b"', '"B"'))  # same size
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    got = probe(writer, top, bundle)
    assert got["hpdemo.sub.b"]["loader"] == "SourceFileLoader"
    assert got["hpdemo.sub.b"]["value"] == "B"


def test_a_module_the_bundle_lacks_is_imported_normally(writer, demo):
    top, bundle = demo
    (top / "hpdemo" / "new.py").write_text('VALUE = "new"\n')
    got = probe(writer, top, bundle, names=[*NAMES, "hpdemo.new"])
    assert got["hpdemo.new"]["loader"] == "SourceFileLoader"
    assert got["hpdemo.new"]["value"] == "new"


def test_a_deleted_module_is_missing_as_without_the_bundle(writer, demo):
    top, bundle = demo
    (top / "hpdemo" / "sub" / "b.py").unlink()
    got = probe(writer, top, bundle)
    assert got["hpdemo.sub.b"] == {"error": "ModuleNotFoundError"}
    assert got["hpdemo.a"]["loader"] == "BundledLoader"


def test_a_bundle_for_another_interpreter_or_none_is_ignored(writer, demo):
    top, bundle = demo
    data = bytearray(bundle.read_bytes())
    data[0] ^= 0xFF  # another bytecode magic number
    other = top / "other.bundle"
    other.write_bytes(bytes(data))
    for path in (other, top / "missing.bundle"):
        got = probe(writer, top, path)
        assert {got[name]["loader"] for name in NAMES} == {"SourceFileLoader"}, path


def test_a_forked_child_reads_the_bundle_only_where_it_is_the_same_file(writer, demo, tmp_path):
    """Stage-1 imports pyrunc.init right after the fork: from the bundle. A
    child in another root (a container's rootfs) may find at the bundle's
    path a file of the container's, made to pass every other check (same
    sources, sizes and mtimes, a bundle written for them): it must never run
    it, and imports the normal way."""
    if os.geteuid() != 0:
        pytest.skip("chroot needs root")
    top, bundle = demo
    b_py = top / "hpdemo" / "sub" / "b.py"
    st = b_py.stat()
    original = b_py.read_text()
    forged = original.replace('"b"', '"F"')  # same size
    fake = tmp_path / "fakeroot"
    fake_top = fake / str(top).lstrip("/")
    fake_bundle = fake / str(bundle).lstrip("/")
    try:
        b_py.write_text(forged)
        os.utime(b_py, ns=(st.st_atime_ns, st.st_mtime_ns))
        fake_bundle.parent.mkdir(parents=True, exist_ok=True)
        writer.write_bundle(str(fake_bundle), writer.package_modules(str(top / "hpdemo"), "hpdemo"))
        for rel in SOURCES:
            dst = fake_top / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_text((top / rel).read_text())
            os.utime(dst, ns=(st.st_atime_ns, (top / rel).stat().st_mtime_ns))
    finally:
        b_py.write_text(original)
        os.utime(b_py, ns=(st.st_atime_ns, st.st_mtime_ns))
    out = tmp_path / "child.txt"
    extra = f"""
import os
fd = os.open({str(out)!r}, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
for root in (None, {str(fake)!r}):
    pid = os.fork()
    if pid == 0:
        if root:
            os.chroot(root)
            os.chdir("/")
        import hpdemo.sub.b
        os.write(fd, (type(hpdemo.sub.b.__loader__).__name__ + " " + hpdemo.sub.b.VALUE + "\\n").encode())
        os._exit(0)
    os.waitpid(pid, 0)
os.close(fd)
"""
    got = probe(writer, top, bundle, names=["hpdemo.sub.b"], extra=extra)
    # the same root: the bundle; the other: its own file, through the normal import
    assert out.read_text().splitlines() == ["BundledLoader b", "SourceFileLoader F"]
    assert got["hpdemo.sub.b"]["loader"] == "BundledLoader"


@pytest.fixture(scope="module")
def launcher(tmp_path_factory):
    """A launcher and its bundle written for this checkout, as install.sh does."""
    path = tmp_path_factory.mktemp("launcher") / "pyrunc"
    subprocess.run([sys.executable, str(WRITER), str(path)], check=True)
    return path


def test_the_launcher_serves_pyrunc_from_its_bundle(launcher):
    """Its own lines (all but `program()`), then what create's child needs."""
    text = launcher.read_text()
    interp = text.splitlines()[0][2:].split()
    head = text.rsplit("from pyrunc.cli import program", 1)[0]
    names = ["pyrunc", "pyrunc.init", "pyrunc.lifecycle.state", "pyrunc.cli.version"]
    code = head + f"NAMES = {names!r}\n" + PROBE + """
import importlib.resources, pyrunc.cli.version
assert (importlib.resources.files("pyrunc") / "errors.py").is_file()
assert (importlib.resources.files("pyrunc.init") / "stage1.py").is_file()
"""
    proc = subprocess.run([*interp, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    pkg = support.REPO / "pyrunc"
    for name in names:
        assert got[name]["loader"] == "BundledLoader", name
    assert got["_fd3_open"] is False
    assert got["pyrunc"]["path"] == [str(pkg)]
    assert got["pyrunc.init"]["file"] == str(pkg / "init" / "__init__.py")
    assert got["pyrunc.lifecycle.state"]["file"] == str(pkg / "lifecycle" / "state.py")


def test_the_launcher_without_a_bundle_still_runs(launcher, tmp_path):
    copy = tmp_path / "pyrunc"
    copy.write_text(launcher.read_text().replace(str(launcher) + ".bundle", str(tmp_path / "gone.bundle")))
    copy.chmod(0o755)
    for argv in ([str(launcher), "--version"], [str(copy), "--version"]):
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0 and proc.stdout.startswith("pyrunc version"), proc.stderr


def test_the_launcher_compiles_no_finder_class_when_its_bundle_has_it(launcher):
    """Python compiles the launcher from source on every call: the editable
    install's finder is precompiled in the bundle and only a string in the
    launcher, compiled only when the bundle cannot be used (issue 19:
    ~0.35 ms of every command)."""
    code = compile(launcher.read_text(), str(launcher), "exec")
    assert "_Mapped" not in [c.co_name for c in code.co_consts if hasattr(c, "co_name")]
    with open(str(launcher) + ".bundle", "rb") as f:
        assert b"_Mapped" in f.read(65536)
