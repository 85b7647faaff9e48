"""The venv step's Python 3.10: where the Makefile looks, and provisioning one with uv.

Each test runs the real Makefile's `VENV/bin/python` step in a shell with no Python 3.10
anywhere it looks. The end-to-end test has uv install a CPython 3.10 from a local archive
of the interpreter running the tests (UV_PYTHON_DOWNLOADS_JSON_URL), so no network is used.
"""

import hashlib
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tarfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAKE = shutil.which("make")
UV = os.path.join(REPO, ".venv", "bin", "uv")  # the pinned uv that `make venv` installed
# What a CPython needs to run and build a venv; the rest only makes the archive slower.
_LEFT_OUT = {"__pycache__", "test", "tests", "idlelib", "tkinter", "turtledemo", "site-packages"}

pytestmark = pytest.mark.skipif(
    not MAKE or not os.access(UV, os.X_OK) or sys.platform != "linux",
    reason="needs GNU make, Linux and the venv's uv")


def _uv_version() -> str:
  with open(os.path.join(REPO, "Makefile")) as f:
    return re.search(r"^UV_VERSION := (\S+)$", f.read(), re.MULTILINE).group(1)


def _no_python310_env(tmp, **extra) -> dict:
  """A clean shell: system PATH only, no pyenv, and every cache and install dir under `tmp`.

  The pinned uv is put where the provisioning step keeps its own copy, as if an earlier
  run had fetched it from PyPI (which a test must not need).
  """
  env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp / "home"), "PYENV_ROOT": str(tmp / "no-pyenv"),
         "XDG_CACHE_HOME": str(tmp / "cache"), "XDG_DATA_HOME": str(tmp / "data"),
         "UV_CACHE_DIR": str(tmp / "uv-cache"), "UV_HTTP_RETRIES": "0", **extra}
  if shutil.which("python3.10", path=env["PATH"]):
    pytest.skip("this machine has python3.10 on its system PATH")
  if not shutil.which("python3", path=env["PATH"]):
    pytest.skip("no system python3 to run the provisioning script with")
  uv_bin = tmp / "cache" / "mnist-tfx" / f"uv-{_uv_version()}" / "bin"
  uv_bin.mkdir(parents=True)
  os.symlink(UV, uv_bin / "uv")
  return env


def _make(env: dict, *args: str) -> subprocess.CompletedProcess:
  return subprocess.run([MAKE, "--no-print-directory", *args], cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=300, check=False)


def _python310(env: dict, *args: str) -> str:
  """The interpreter the Makefile's lookup picks, without running any recipe."""
  return _make(env, "--eval", "show-python310: ; @echo $(PYTHON310)", *args,
               "show-python310").stdout.strip()


def _own_python_archive(tmp) -> str:
  """This interpreter's CPython as a python-build-standalone `install_only` archive, and a
  downloads list naming it; returns the list's path, for UV_PYTHON_DOWNLOADS_JSON_URL."""
  base, (major, minor, micro) = sys.base_prefix, sys.version_info[:3]
  stdlib = f"lib/python{major}.{minor}"

  def keep(info: tarfile.TarInfo):
    parts = info.name.split("/")
    return None if _LEFT_OUT & set(parts) or info.name.endswith(".a") else info

  archive = tmp / "cpython-install_only.tar"
  with tarfile.open(archive, "w") as tar:
    tar.add(os.path.realpath(sys.executable), f"python/bin/python{major}.{minor}")
    for link in ("python3", "python"):
      info = tarfile.TarInfo(f"python/bin/{link}")
      info.type, info.linkname = tarfile.SYMTYPE, f"python{major}.{minor}"
      tar.addfile(info)
    tar.add(os.path.join(base, stdlib), f"python/{stdlib}", filter=keep)
    for name in os.listdir(os.path.join(base, "lib")):
      if name.startswith(f"libpython{major}.{minor}.so"):
        tar.add(os.path.join(base, "lib", name), f"python/lib/{name}")
  with open(archive, "rb") as f:
    sha256 = hashlib.sha256(f.read()).hexdigest()
  arch = platform.machine()
  key = f"cpython-{major}.{minor}.{micro}-linux-{arch}-gnu"
  downloads = {key: {"name": "cpython", "arch": {"family": arch, "variant": None},
                     "os": "linux", "libc": "gnu", "major": major, "minor": minor,
                     "patch": micro, "prerelease": "", "url": archive.as_uri(),
                     "sha256": sha256, "variant": None}}
  (tmp / "downloads.json").write_text(json.dumps(downloads))
  return str(tmp / "downloads.json")


@pytest.mark.slow
def test_with_no_python310_the_venv_step_installs_one_with_uv_and_builds_the_venv(tmp_path):
  if sys.version_info[:2] != (3, 10) or platform.machine() != "x86_64":
    pytest.skip("the archive is built from this interpreter, which must be a Linux x86_64 3.10")
  env = _no_python310_env(tmp_path, UV_PYTHON_DOWNLOADS_JSON_URL=_own_python_archive(tmp_path))
  assert _python310(env) == ""
  venv = tmp_path / "venv"
  installs = tmp_path / "data" / "uv" / "python"

  made = _make(env, f"VENV={venv}", f"{venv}/bin/python")

  assert made.returncode == 0, made.stderr
  assert made.stderr.splitlines()[0] == (
      f"Python 3.10 not found: installing uv's managed CPython 3.10 into {installs} "
      f"(uv {_uv_version()} into {tmp_path}/cache/mnist-tfx/uv-{_uv_version()})")
  probe = subprocess.run([venv / "bin" / "python", "-c",
                          "import sys, ssl, sqlite3, pip; print(sys.version_info[:2], sys.base_prefix)"],
                         capture_output=True, text=True, timeout=60, check=True).stdout.split()
  assert probe[:2] == ["(3,", "10)"]
  assert probe[2].startswith(f"{installs}/cpython-3.10")
  # The next lookup finds that Python, so a rebuilt venv needs neither uv nor a download.
  assert _python310(env).startswith(f"{installs}/cpython-3.10")


def _closed_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def test_when_python310_cannot_be_downloaded_the_venv_step_says_what_to_do_in_one_line(tmp_path):
  # A mirror nobody listens on stands in for a machine that cannot reach GitHub.
  env = _no_python310_env(tmp_path,
                          UV_PYTHON_INSTALL_MIRROR=f"http://127.0.0.1:{_closed_port()}")
  venv = tmp_path / "venv"

  made = _make(env, f"VENV={venv}", f"{venv}/bin/python")

  assert made.returncode != 0
  ours = [line for line in made.stderr.splitlines() if not line.startswith("make: ")]
  assert len(ours) == 2, made.stderr
  assert ours[0].startswith("Python 3.10 not found: installing uv's managed CPython 3.10")
  assert ours[1].startswith("error: could not provision Python 3.10 (uv could not download "
                            "it from 127.0.0.1:")
  for way_out in ("pyenv install 3.10", "python3.10", "PYTHON310=/path/to/python3.10",
                  "run in the image"):
    assert way_out in ours[1]
  assert not venv.exists()


def test_with_not_even_a_python3_the_venv_step_says_what_to_do_in_one_line(tmp_path):
  env = {"PATH": str(tmp_path / "empty-bin"), "HOME": str(tmp_path),
         "PYENV_ROOT": str(tmp_path / "no-pyenv")}
  made = _make(env, f"VENV={tmp_path}/venv", f"{tmp_path}/venv/bin/python")
  assert made.returncode != 0
  ours = [line for line in made.stderr.splitlines() if not line.startswith("make: ")]
  assert ours == [("error: no Python 3.10, and no python3 to install one with uv: install "
                   "Python 3.10 (pyenv install 3.10, or your distribution's python3.10), or pass "
                   "PYTHON310=/path/to/python3.10, or run in the image (README, \"Requirements\")")]


def test_an_existing_python310_keeps_priority_over_provisioning(tmp_path):
  """PYTHON310= first, then python3.10 on PATH, then pyenv's, then uv's from before."""
  python310 = os.path.realpath(sys.executable)
  if sys.version_info[:2] != (3, 10):
    pytest.skip("needs a Python 3.10 to point at")
  on_path, pyenv, uv_managed = (tmp_path / "bin" / "python3.10",
                                tmp_path / "pyenv/versions/3.10.99/bin/python3.10",
                                tmp_path / "uv/cpython-3.10.99-linux-x86_64-gnu/bin/python3.10")
  for link in (on_path, pyenv, uv_managed):
    link.parent.mkdir(parents=True)
    os.symlink(python310, link)
  env = {"PATH": f"{tmp_path}/bin:/usr/bin:/bin", "HOME": str(tmp_path),
         "PYENV_ROOT": str(tmp_path / "pyenv"), "UV_PYTHON_INSTALL_DIR": str(tmp_path / "uv")}
  assert _python310(env, "PYTHON310=/opt/mine/python3.10") == "/opt/mine/python3.10"
  assert _python310(env) == str(on_path)
  on_path.unlink()
  assert _python310(env) == str(pyenv)
  pyenv.unlink()
  assert _python310(env) == str(uv_managed)


@pytest.mark.skipif(os.path.realpath(sys.prefix) != os.path.realpath(os.path.join(REPO, ".venv")),
                    reason="checks the venv `make venv` builds; these tests run elsewhere")
@pytest.mark.parametrize("module", ["tensorflow", "tfx", "apache_beam"])
def test_the_venv_is_byte_compiled(module):
  """With PYTHONDONTWRITEBYTECODE set, a venv installed without bytecode makes every process
  compile TF and TFX from source again (`import tfx.v1`: 55 s instead of 20 s)."""
  import importlib.util
  origin = importlib.util.find_spec(module).origin
  assert os.path.exists(importlib.util.cache_from_source(origin)), origin


def _dry_run(tmp, *targets: str) -> str:
  """The recipes `make -n` would run for `targets`, with the venv under `tmp`."""
  venv = tmp / "venv"
  made = _make({"PATH": os.environ["PATH"], "HOME": str(tmp)}, "-n", "-B", f"VENV={venv}",
               *[t.replace("VENV", str(venv)) for t in targets])
  assert made.returncode == 0, made.stderr
  return made.stdout


def test_the_venv_installs_only_files_whose_hash_the_lock_pins(tmp_path):
  recipes = _dry_run(tmp_path, "VENV/.synced")
  # uv itself, before it installs anything else, then everything in the lock.
  assert re.search(r"-m pip install -q --disable-pip-version-check --require-hashes \\\n"
                   r"\s+-r requirements-uv.lock", recipes), recipes
  assert re.search(r"uv pip sync -q --compile-bytecode --require-hashes --python \S+ "
                   r"requirements.lock", recipes), recipes
  with open(os.path.join(REPO, "Makefile")) as f:
    makefile = f.read()
  assert not re.search(r"install[^\n]*uv==", makefile)  # never unpinned by hash
  lock = makefile[makefile.index("\nlock:"):makefile.index("\nlock-uv:")]
  assert lock.count("--generate-hashes") == 3  # requirements, -gpu and -audit .lock


def _warning(python: str, safe: str) -> subprocess.CompletedProcess:
  return _make({"PATH": os.environ["PATH"], "HOME": "/nonexistent"}, f"PY310_SAFE={safe}",
               "--eval", "warn: ; @$(call warn_old_python310," + python + ")", "warn")


def test_a_python310_older_than_the_tarfile_fix_gets_one_line_and_the_build_goes_on():
  python = os.path.realpath(sys.executable)
  version = ".".join(map(str, sys.version_info[:3]))
  newer = f"{sys.version_info[0]}.{sys.version_info[1]}.{sys.version_info[2] + 1}"
  older = _warning(python, newer)
  assert older.returncode == 0 and older.stdout == ""
  assert older.stderr.splitlines() == [
      f"warning: {python} is Python {version}, older than {newer}: its tarfile lacks the fix for "
      f"CVE-2025-4517; install {newer} or later (pyenv install 3.10) or pass "
      "PYTHON310=/path/to/a/newer/python3.10"]
  same = _warning(python, version)
  assert (same.returncode, same.stdout, same.stderr) == (0, "", "")


def test_the_warning_threshold_is_the_release_with_the_fix_and_the_venv_step_uses_it():
  with open(os.path.join(REPO, "Makefile")) as f:
    makefile = f.read()
  assert re.search(r"^PY310_SAFE := 3\.10\.18$", makefile, re.MULTILINE)
  step = makefile[makefile.index("\n$(PY):"):makefile.index("\nwarn_old_python310 =")]
  assert '$(call warn_old_python310,$$py); "$$py" -m venv $(VENV)' in step


def test_make_image_advises_a_digest_for_a_tag_only_base_and_names_a_missing_engine(tmp_path):
  """No engine on PATH: nothing is built; first the one line about the base, then the error."""
  tools = tmp_path / "bin"  # what the recipe needs besides an engine
  tools.mkdir()
  for tool in ("mkdir", "cat"):
    os.symlink(shutil.which(tool), tools / tool)
  env = {"PATH": str(tools), "HOME": str(tmp_path)}
  make = shutil.which("make")
  tagged = subprocess.run([make, "--no-print-directory", "image"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
  assert tagged.returncode != 0
  assert [line for line in tagged.stderr.splitlines() if not line.startswith("make: ")] == [
      "note: BASE_IMAGE=python:3.10-slim is pinned by tag only; pin it by digest for a "
      "reproducible image (docs/security.md)",
      "error: no container engine: install podman (apt-get install podman) or start docker"]
  pinned = subprocess.run([make, "--no-print-directory", "image",
                           "BASE_IMAGE=python:3.10-slim@sha256:" + "0" * 64], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
  assert "note:" not in pinned.stderr and "error: no container engine" in pinned.stderr
  with open(os.path.join(REPO, "Makefile")) as f:  # what it prints after a build
    assert 'echo "built $(IMAGE): image ID $$(cat $(IMAGE_ID_FILE))"' in f.read()
