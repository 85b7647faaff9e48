"""A failed run in one line: the causes an operator can act on, found inside the wrapping.

A component's error reaches `python -m pipeline run` wrapped by Beam ("… [while
running 'Run[Trainer]']"), and TensorFlow's own errors can run to a hundred
lines (the op's creation stack, and for any ResourceExhaustedError a hint about
tensor allocations, though a full disk is not out of memory).
"""

import errno
import re
from typing import Optional

NO_SPACE = "No space left on device"
# TensorFlow writes "<path>; No space left on device" (or ": "); Python "…: '<path>'".
_TF_NO_SPACE = re.compile(r"(?P<path>(?:[a-z][a-z0-9+.-]*:/)?/[^\s;:'\"\]]+)[;:] " + NO_SPACE)
_PY_NO_SPACE = re.compile(NO_SPACE + r": '(?P<path>[^']+)'")


def _chain(error: BaseException):
  """`error`, then each exception it was raised from or during."""
  seen = set()
  while error is not None and id(error) not in seen:
    seen.add(id(error))
    yield error
    error = error.__cause__ or error.__context__


def disk_full_path(error: BaseException) -> Optional[str]:
  """The file a full disk stopped, if a full disk is what `error` (or its cause) is.

  Returns "" for a full disk whose path is not said anywhere, None for any other error.
  """
  for cause in _chain(error):
    if isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT):
      return cause.filename or ""
    text = str(cause)
    if NO_SPACE in text:
      found = _TF_NO_SPACE.search(text) or _PY_NO_SPACE.search(text)
      return found.group("path") if found else ""
  return None


def disk_full_line(error: BaseException, where: str = "") -> Optional[str]:
  """One line for a run stopped by a full disk, naming the path (else the directory `where`
  the run writes); None for other errors."""
  path = disk_full_path(error)
  if path is None:
    return None
  path = path or (f"a file under {where}" if where else "a file")
  return (f"{path}: {NO_SPACE} (free some space, then rerun the same command: "
          "components that finished are reused from the cache)")
