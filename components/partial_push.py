"""Names of partial pushes, and removal of the dead ones this host left behind.

A push is copied to `<serving dir>/<PARTIAL_PUSH_PREFIX><host>-<pid>-<version>`
first, then renamed to `<version>` (components/atomic_pusher.py). The host is in
the name because a serving directory may be shared between machines (NFS): a
pid means something only on the host that started it, and another host's
partial copy may be a push still in progress there.

Light to import (standard library only): `clean` uses it before TensorFlow loads.
"""

import logging
import os
import re
import shutil
import socket
from typing import List, NamedTuple, Optional

from pipeline.layout import PARTIAL_PUSH_PREFIX
from pipeline.data.files import process_alive

_LOG = logging.getLogger(__name__)


class PartialPush(NamedTuple):
  """Who is writing a partial push: the host and process, and the version it will become."""
  host: str
  pid: int
  version: str


def this_host() -> str:
  """This machine's name as it appears in partial pushes (characters safe in a file name)."""
  return re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname()) or "unknown-host"


def partial_push_name(version: str, pid: Optional[int] = None,
                      host: Optional[str] = None) -> str:
  """The hidden directory name a push of `version` is copied into before its rename."""
  return f"{PARTIAL_PUSH_PREFIX}{host or this_host()}-{pid or os.getpid()}-{version}"


def parse_partial_push(name: str) -> Optional[PartialPush]:
  """The owner of a partial push named `name`; None for any other name.

  Host names may contain '-', so the pid and the version are split off the right.
  Names without a host (`.partial-<pid>-<version>`, written before hosts were
  recorded) give None: whose they are is unknown, so they are never removed.
  """
  if not name.startswith(PARTIAL_PUSH_PREFIX):
    return None
  parts = name[len(PARTIAL_PUSH_PREFIX):].rsplit("-", 2)
  if len(parts) != 3 or not parts[0] or not (parts[1].isdigit() and parts[2].isdigit()):
    return None
  return PartialPush(parts[0], int(parts[1]), parts[2])


def is_dead_local_push(name: str, host: Optional[str] = None) -> bool:
  """True for a partial push that this host started and whose process is gone."""
  owner = parse_partial_push(name)
  return bool(owner and owner.host == (host or this_host()) and not process_alive(owner.pid))


def remove_dead_partial_pushes(directory: str) -> List[str]:
  """Removes the partial pushes in `directory` left by killed pushes of this host.

  Another host's partial copies are left alone, dead or not: their pids cannot
  be checked from here. Local paths only. Returns the names removed.
  """
  host = this_host()
  names = sorted(os.listdir(directory)) if os.path.isdir(directory) else []
  removed = [name for name in names if is_dead_local_push(name, host)]
  for name in removed:
    shutil.rmtree(os.path.join(directory, name), ignore_errors=True)
  if removed:
    _LOG.warning("removed what killed pushes left in %s: %s", directory, ", ".join(removed))
  return removed
