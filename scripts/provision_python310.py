"""Prints the path of a Python 3.10, installing a uv-managed CPython 3.10 first.

The Makefile runs this only when it found no Python 3.10 itself (PYTHON310=, `python3.10`
on PATH, pyenv's, or one uv installed before). Any python3 from 3.7 on runs it: stdlib only.

  python3 scripts/provision_python310.py --uv-lock requirements-uv.lock   # stdout: the path

uv comes from PyPI (with the machine's pip, or a plain download where python3 has no pip)
into `$XDG_CACHE_HOME/mnist-tfx/uv-VERSION`, only if its file's SHA-256 is one the lock
pins (requirements-uv.lock); uv then installs CPython 3.10 into `$UV_PYTHON_INSTALL_DIR`
(default `~/.local/share/uv/python`) from python-build-standalone on GitHub, or from what
`UV_PYTHON_INSTALL_MIRROR` / `UV_PYTHON_DOWNLOADS_JSON_URL` name. uv checks that download
against the SHA-256 its own (pinned) release lists for it.
Any failure is one line on stderr that names the ways out, and exit status 1.
"""

from __future__ import annotations  # dict[...] annotations on a python3 older than 3.9

import argparse
import hashlib
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from collections.abc import Mapping

WAYS_OUT = ("install Python 3.10 yourself (pyenv install 3.10, your distribution's "
            "python3.10, or uv python install 3.10 where GitHub is reachable), "
            "or pass PYTHON310=/path/to/python3.10, or run in the image "
            "(README, \"Requirements\")")
_SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"


class ProvisionError(Exception):
  """A step failed; the message says which and why, in a few words."""


def python_install_dir(env: Mapping[str, str]) -> str:
  """Where uv puts managed Pythons: the same rule as uv's, so the Makefile finds them."""
  if env.get("UV_PYTHON_INSTALL_DIR"):
    return env["UV_PYTHON_INSTALL_DIR"]
  data = env.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
  return os.path.join(data, "uv", "python")


def uv_dir(env: Mapping[str, str], version: str) -> str:
  """This project's copy of uv `version` (uv itself is never put on the user's PATH)."""
  cache = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
  return os.path.join(cache, "mnist-tfx", f"uv-{version}")


def pinned_uv(lock_text: str) -> tuple[str, frozenset]:
  """The version and SHA-256 digests that a `uv==V --hash=sha256:...` lock file pins."""
  version = re.search(r"^uv==(\S+)", lock_text, re.MULTILINE)
  hashes = frozenset(re.findall(r"--hash=sha256:([0-9a-f]{64})", lock_text))
  if not version or not hashes:
    raise ProvisionError("the uv lock names no uv==VERSION with --hash=sha256:... digests")
  return version.group(1), hashes


def pick_wheel(files: list, version: str, machine: str) -> dict[str, str]:
  """The manylinux wheel of uv `version` for `machine` from a PEP 691 file list."""
  for f in files:
    name = f["filename"]
    if (name.startswith(f"uv-{version}-") and "manylinux" in name
        and name.endswith(f"_{machine}.whl") and "sha256" in f.get("hashes", {})):
      return {"url": f["url"], "sha256": f["hashes"]["sha256"], "filename": name}
  raise ProvisionError(f"PyPI lists no manylinux {machine} wheel of uv {version}")


def _download_uv(version: str, hashes: frozenset, dest: str, index: str) -> None:
  """Fetches uv's wheel from the index's JSON API; unpacks `bin/uv` if its SHA-256 is pinned.

  The index's own listed digest is not trusted: an index (or a proxy) could list any.
  """
  request = urllib.request.Request(index.rstrip("/") + "/uv/", headers={"Accept": _SIMPLE_JSON})
  try:
    with urllib.request.urlopen(request, timeout=30) as r:
      wheel = pick_wheel(json.load(r)["files"], version, platform.machine())
    with urllib.request.urlopen(wheel["url"], timeout=60) as r:
      data = r.read()
  except OSError as e:  # URLError, timeouts, refused connections
    raise ProvisionError(f"could not fetch uv {version} from {index}: {e}") from e
  if hashlib.sha256(data).hexdigest() not in hashes:
    raise ProvisionError(f"{wheel['filename']} from {index} failed its SHA-256 check: "
                         "not a digest the uv lock pins")
  os.makedirs(os.path.join(dest, "bin"))
  with zipfile.ZipFile(io.BytesIO(data)) as z, open(os.path.join(dest, "bin", "uv"), "wb") as out:
    out.write(z.read(f"uv-{version}.data/scripts/uv"))
  os.chmod(os.path.join(dest, "bin", "uv"), 0o755)


def bootstrap_uv(version: str, hashes: frozenset, dest: str, env: Mapping[str, str]) -> str:
  """Path of uv `version` under `dest`, fetched from PyPI unless a previous run did; only a
  file whose SHA-256 is in `hashes` is installed.

  pip first, as it honours the machine's index and proxy settings; `--target` also
  works where the system Python is externally managed (PEP 668). The plain download
  covers a python3 without pip, as on a fresh Debian or Ubuntu.
  """
  uv = os.path.join(dest, "bin", "uv")
  if os.access(uv, os.X_OK):
    return uv
  tmp = f"{dest}.tmp-{os.getpid()}"  # renamed into place only when complete
  shutil.rmtree(tmp, ignore_errors=True)
  os.makedirs(os.path.dirname(dest), exist_ok=True)
  requirement = f"{tmp}.txt"  # pip checks hashes given in a requirements file only
  try:
    with open(requirement, "w") as f:
      f.write(f"uv=={version} " + " ".join(f"--hash=sha256:{h}" for h in sorted(hashes)) + "\n")
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                          "--disable-pip-version-check", "--no-warn-script-location",
                          "--require-hashes", "--target", tmp, "-r", requirement],
                         env=dict(env), capture_output=True, text=True, check=False)
  finally:
    os.unlink(requirement)
  try:
    if pip.returncode != 0 or not os.access(os.path.join(tmp, "bin", "uv"), os.X_OK):
      shutil.rmtree(tmp, ignore_errors=True)
      _download_uv(version, hashes, tmp, env.get("PIP_INDEX_URL") or "https://pypi.org/simple")
    os.rename(tmp, dest)
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
  return uv


def uv_failure(output: str) -> str:
  """uv's error chain in a few words: the host it tried, if any, and the innermost cause."""
  lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
  if not lines:
    return "uv failed without a message"
  cause = lines[-1].split("cause: ", 1)[-1]
  host = re.search(r"https?://([^/\s`]+)", output)
  return f"uv could not download it from {host.group(1)}: {cause}" if host else f"uv: {cause}"


def install_python(uv: str, env: dict[str, str]) -> str:
  """Installs uv's CPython 3.10 (a no-op when present); returns its interpreter's path."""
  install = subprocess.run([uv, "python", "install", "--no-bin", "3.10"], env=env,
                           capture_output=True, text=True, check=False)
  if install.returncode != 0:
    raise ProvisionError(uv_failure(install.stderr))
  found = subprocess.run([uv, "python", "find", "--managed-python", "3.10"], env=env,
                         capture_output=True, text=True, check=False)
  if found.returncode != 0 or not found.stdout.strip():
    raise ProvisionError(f"installed, but not found: {uv_failure(found.stderr)}")
  return found.stdout.strip()


def main() -> None:
  """Provisions; prints the interpreter's path on stdout and one progress line on stderr."""
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
  parser.add_argument("--uv-lock", required=True,
                      help="the uv to bootstrap: a requirements file pinning uv==V by --hash")
  args = parser.parse_args()
  env = dict(os.environ)
  env["UV_PYTHON_INSTALL_DIR"] = python_install_dir(env)  # the place the line below names
  try:
    with open(args.uv_lock) as f:
      version, hashes = pinned_uv(f.read(1 << 20))
  except (ProvisionError, OSError) as e:
    sys.exit(f"error: could not provision Python 3.10 ({args.uv_lock}: {e}); {WAYS_OUT}")
  tools = uv_dir(env, version)
  print(f"Python 3.10 not found: installing uv's managed CPython 3.10 into "
        f"{env['UV_PYTHON_INSTALL_DIR']} (uv {version} into {tools})",
        file=sys.stderr, flush=True)
  try:
    print(install_python(bootstrap_uv(version, hashes, tools, env), env))
  except (ProvisionError, OSError) as e:
    sys.exit(f"error: could not provision Python 3.10 ({e}); {WAYS_OUT}")


if __name__ == "__main__":
  main()
