"""A full disk found inside the errors a run gets: TensorFlow's, Python's, wrapped by Beam."""

import errno
import os

import pytest

from pipeline.runners.failures import disk_full_line, disk_full_path

CKPT = "/out/pipelines/p/Trainer/model_run/7/model.ckpt-0_temp/part-00000-of-00001.data"


def _raised(error, wrapper):
  """`wrapper` raised while handling `error`, as Beam re-raises a component's exception."""
  try:
    try:
      raise error
    except Exception as inner:
      raise wrapper from inner
  except Exception as outer:
    return outer


@pytest.mark.parametrize("error,path", [
    # TensorFlow's: the path, then "; No space left on device", then 100+ lines.
    (RuntimeError(f"ResourceExhaustedError: {CKPT}; {os.strerror(errno.ENOSPC)}\n\t [[{{node "
                  "save/SaveV2}}]]\nHint: If you want to see a list of allocated tensors when "
                  "OOM happens, add report_tensor_allocations_upon_oom [while running "
                  "'Run[Trainer]']"), CKPT),
    (OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/serving/.partial-h-1-2/saved_model.pb"),
     "/serving/.partial-h-1-2/saved_model.pb"),
    (_raised(OSError(errno.EDQUOT, os.strerror(errno.EDQUOT), "/q/f"), RuntimeError("wrapped")),
     "/q/f"),
    # Python's text, after Beam turned the OSError into a message.
    (RuntimeError(f"[Errno 28] {os.strerror(errno.ENOSPC)}: '/out/a b/x' [while running 'R']"),
     "/out/a b/x"),
    (RuntimeError(os.strerror(errno.ENOSPC)), ""),
    (RuntimeError("Data types don't match"), None),
    (OSError(errno.EACCES, "Permission denied", "/x"), None),
])
def test_the_path_a_full_disk_stopped_is_found(error, path):
  assert disk_full_path(error) == path


def test_one_line_names_the_path_and_what_to_do():
  line = disk_full_line(RuntimeError(f"E: {CKPT}; {os.strerror(errno.ENOSPC)}\nmore\nlines"))
  assert line == (f"{CKPT}: No space left on device (free some space, then rerun the same "
                  "command: components that finished are reused from the cache)")
  assert disk_full_line(ValueError("bad data")) is None


def test_a_full_disk_that_names_no_file_names_the_directory_written():
  line = disk_full_line(OSError(errno.ENOSPC, "No space left on device"), "/srv/out")
  assert line.startswith("a file under /srv/out: No space left on device (")
