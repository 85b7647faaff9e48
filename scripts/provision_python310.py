"""Prints the path of a Python 3.10, installing a uv-managed CPython 3.10 first.

The Makefile runs this only when it found no Python 3.10 itself (PYTHON310=, `python3.10`
on PATH, pyenv's, or one uv installed before). Any python3 from 3.7 on runs it: stdlib only.

  python3 scripts/provision_python310.py --uv-version 0.13.9   # stdout: /path/to/python3.10

uv comes from PyPI (with the machine's pip, or a plain download where python3 has no pip)
into `$XDG_CACHE_HOME/mnist-tfx/uv-VERSION`; uv then installs CPython 3.10 into
`$UV_PYTHON_INSTALL_DIR` (default `~/.local/share/uv/python`) from python-build-standalone
on GitHub, or from what `UV_PYTHON_INSTALL_MIRROR` / `UV_PYTHON_DOWNLOADS_JSON_URL` name.
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


def pick_wheel(files: list, version: str, machine: str) -> dict[str, str]:
  """The manylinux wheel of uv `version` for `machine` from a PEP 691 file list."""
  for f in files:
    name = f["filename"]
    if (name.startswith(f"uv-{version}-") and "manylinux" in name
        and name.endswith(f"_{machine}.whl") and "sha256" in f.get("hashes", {})):
      return {"url": f["url"], "sha256": f["hashes"]["sha256"], "filename": name}
  raise ProvisionError(f"PyPI lists no manylinux {machine} wheel of uv {version}")


def _download_uv(version: str, dest: str, index: str) -> None:
  """Fetches uv's wheel from the index's JSON API, checks its SHA-256, unpacks `bin/uv`."""
  request = urllib.request.Request(index.rstrip("/") + "/uv/", headers={"Accept": _SIMPLE_JSON})
  try:
    with urllib.request.urlopen(request, timeout=30) as r:
      wheel = pick_wheel(json.load(r)["files"], version, platform.machine())
    with urllib.request.urlopen(wheel["url"], timeout=60) as r:
      data = r.read()
  except OSError as e:  # URLError, timeouts, refused connections
    raise ProvisionError(f"could not fetch uv {version} from {index}: {e}") from e
  if hashlib.sha256(data).hexdigest() != wheel["sha256"]:
    raise ProvisionError(f"{wheel['filename']} from {index} failed its SHA-256 check")
  os.makedirs(os.path.join(dest, "bin"))
  with zipfile.ZipFile(io.BytesIO(data)) as z, open(os.path.join(dest, "bin", "uv"), "wb") as out:
    out.write(z.read(f"uv-{version}.data/scripts/uv"))
  os.chmod(os.path.join(dest, "bin", "uv"), 0o755)


def bootstrap_uv(version: str, dest: str, env: Mapping[str, str]) -> str:
  """Path of uv `version` under `dest`, fetched from PyPI unless a previous run did.

  pip first, as it honours the machine's index and proxy settings; `--target` also
  works where the system Python is externally managed (PEP 668). The plain download
  covers a python3 without pip, as on a fresh Debian or Ubuntu.
  """
  uv = os.path.join(dest, "bin", "uv")
  if os.access(uv, os.X_OK):
    return uv
  tmp = f"{dest}.tmp-{os.getpid()}"  # renamed into place only when complete
  shutil.rmtree(tmp, ignore_errors=True)
  pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "--no-warn-script-location", "--target", tmp, f"uv=={version}"],
                       env=dict(env), capture_output=True, text=True, check=False)
  try:
    if pip.returncode != 0 or not os.access(os.path.join(tmp, "bin", "uv"), os.X_OK):
      shutil.rmtree(tmp, ignore_errors=True)
      _download_uv(version, tmp, env.get("PIP_INDEX_URL") or "https://pypi.org/simple")
    os.makedirs(os.path.dirname(dest), exist_ok=True)
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
  parser.add_argument("--uv-version", required=True, help="the uv to bootstrap, e.g. 0.13.9")
  args = parser.parse_args()
  env = dict(os.environ)
  env["UV_PYTHON_INSTALL_DIR"] = python_install_dir(env)  # the place the line below names
  tools = uv_dir(env, args.uv_version)
  print(f"Python 3.10 not found: installing uv's managed CPython 3.10 into "
        f"{env['UV_PYTHON_INSTALL_DIR']} (uv {args.uv_version} into {tools})",
        file=sys.stderr, flush=True)
  try:
    print(install_python(bootstrap_uv(args.uv_version, tools, env), env))
  except (ProvisionError, OSError) as e:
    sys.exit(f"error: could not provision Python 3.10 ({e}); {WAYS_OUT}")


if __name__ == "__main__":
  main()
