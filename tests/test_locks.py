"""Every lock pins each requirement to one version and the sha256 of its files, so that
`make venv`, the image and `make audit` install only those files (--require-hashes)."""

import os
import re

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOCKS = ["requirements.lock", "requirements-gpu.lock", "requirements-kfp2.lock",
         "requirements-uv.lock", "requirements-audit.lock"]


def _requirements(lock: str) -> list:
  """The lock's requirements, one string each, continuation lines joined, comments dropped."""
  with open(os.path.join(REPO, lock)) as f:
    text = re.sub(r"\s*\\\n\s*", " ", f.read())
  return [line.split(" #")[0].strip() for line in text.splitlines()
          if line.strip() and not line.lstrip().startswith("#")]


@pytest.mark.parametrize("lock", LOCKS)
def test_every_requirement_is_pinned_and_hashed(lock):
  requirements = _requirements(lock)
  assert requirements
  for requirement in requirements:
    assert re.match(r"^[A-Za-z0-9._-]+(\[[\w,-]+\])?==[^ ;]+( ;[^-]+)? --hash=sha256:[0-9a-f]{64}",
                    requirement), requirement
  names = [r.split("==")[0].lower() for r in requirements]
  assert len(names) == len(set(names))


def test_the_main_lock_holds_what_the_pipeline_needs():
  """The hashes cover the whole environment, not a part of it."""
  names = {r.split("==")[0].lower() for r in _requirements("requirements.lock")}
  assert {"tfx", "tensorflow", "apache-beam", "kfp", "uv", "setuptools"} <= names
  assert len(names) > 250
