"""The README's marked command blocks, extracted and run as a reader would run them.

A block is marked by an HTML comment on the line before its fence, which Markdown does not
show: `<!-- readme-test: NAME -->`. Tests run the block's text unchanged, in a directory laid
out like a checkout after `make` (its `.venv` the venv running the tests), so a command that
is wrong in the README fails there.
"""

import os
import re
import subprocess
import sys
from typing import Dict, List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
README = os.path.join(ROOT, "README.md")
_FENCE = re.compile(r"^```")
# The README's own links: [text](target), not images' or code's.
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def readme_text() -> str:
  """README.md's text."""
  with open(README, encoding="utf-8") as f:
    return f.read()


def marked_block(text: str, name: str) -> str:
  """The body of the fenced block right after `<!-- readme-test: NAME -->`.

  Raises LookupError naming the marker when it is missing or not followed by a fence, so a
  block removed from the README fails its test instead of silently testing nothing.
  """
  lines = text.splitlines()
  marker = f"<!-- readme-test: {name} -->"
  try:
    start = lines.index(marker) + 1
  except ValueError:
    raise LookupError(f"README.md has no {marker} line") from None
  if start >= len(lines) or not _FENCE.match(lines[start]):
    raise LookupError(f"README.md: {marker} is not followed by a ``` fence")
  body: List[str] = []
  for line in lines[start + 1:]:
    if _FENCE.match(line):
      return "\n".join(body) + "\n"
    body.append(line)
  raise LookupError(f"README.md: the block after {marker} is never closed")


def relative_links(text: str) -> List[str]:
  """The link targets in Markdown text that are paths in this repository (no URL, no bare
  #anchor)."""
  return [t for t in _LINK.findall(text) if not re.match(r"^[a-z]+:|^#", t)]


def checkout_like(directory: str) -> str:
  """Makes `directory` look like a checkout after `make`: `.venv` is the venv running the
  tests. Returns the directory."""
  os.makedirs(directory, exist_ok=True)
  os.symlink(sys.prefix, os.path.join(directory, ".venv"))
  return directory


def reader_env(home: str) -> Dict[str, str]:
  """A reader's environment: this HOME, no venv active, no cache overrides; PYTHONPATH names
  this checkout so its code is the one that runs (as `make`'s editable install would)."""
  env = {k: v for k, v in os.environ.items()
         if k not in ("VIRTUAL_ENV", "MNIST_TFX_CACHE", "XDG_CACHE_HOME", "PYTHONHOME")}
  venv_bin = os.path.join(sys.prefix, "bin")
  env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                if p and os.path.realpath(p) != os.path.realpath(venv_bin))
  env["HOME"] = home
  env["PYTHONPATH"] = ROOT
  return env


def run_block(script: str, cwd: str, env: Dict[str, str], prelude: Optional[str] = None,
              timeout: float = 300) -> subprocess.CompletedProcess:
  """Runs `script` (after `prelude`, e.g. the activation line the README says comes first)
  in bash, stopping at the first failing command, as a reader pasting it would notice."""
  text = (prelude + "\n" if prelude else "") + script
  return subprocess.run(["bash", "-e", "-o", "pipefail", "-c", text], cwd=cwd, env=env,
                        capture_output=True, text=True, timeout=timeout, check=False)
