"""Keeps TensorFlow's GPU-plugin registration noise off the terminal of a CPU machine.

TF 2.15 prints three `E ... Unable to register cuDNN/cuFFT/cuBLAS factory` lines
from C++ at import, on every machine, GPU or not; they call for no action, but
read as errors. They are written to file descriptor 2 directly, so Python's
logging cannot filter them: a small forked process sits between fd 2 and the
real stderr, forwarding every line but those. Real TensorFlow errors still pass.
"""

import glob
import os
import re
import signal
import sys

# The lines TF 2.15 prints when its CUDA plugins are registered twice (tensorflow#62075).
NOISE = re.compile(rb"Unable to register cu(DNN|FFT|BLAS) factory")


# Whether fd 2 was a terminal before `install` put a pipe there (None: not installed).
_was_terminal = None


def stderr_is_terminal() -> bool:
  """True when the program's stderr is a terminal, whether or not the filter sits on it."""
  return os.isatty(2) if _was_terminal is None else _was_terminal


def has_gpu() -> bool:
  """True when an NVIDIA device node exists (then the lines might matter)."""
  return bool(glob.glob("/dev/nvidia[0-9]*"))


def forward(source: int, target: int) -> None:
  """Copies fd `source` to fd `target` until EOF, dropping the NOISE lines.

  Only an unfinished line that could be a TensorFlow log line (they start with
  the date) waits for its end; anything else, a progress bar's carriage-return
  update included, is passed on as soon as it arrives.
  """
  pending = b""
  while True:
    chunk = os.read(source, 65536)
    if not chunk:
      break
    pending += chunk
    *lines, pending = pending.split(b"\n")
    out = b"".join(line + b"\n" for line in lines if not NOISE.search(line))
    if pending and not pending[:1].isdigit():
      out, pending = out + pending, b""
    if out:
      os.write(target, out)
  if pending and not NOISE.search(pending):
    os.write(target, pending)


def install() -> None:
  """Routes this process's fd 2 through a forwarding child, unless there is a GPU.

  Call it before TensorFlow loads and before any thread starts (it forks). The
  child exits when every writer of the pipe is gone, after forwarding the rest,
  so no line written before the program exits is lost.
  """
  global _was_terminal
  if has_gpu():
    return
  _was_terminal = os.isatty(2)
  sys.stderr.flush()
  read_end, write_end = os.pipe()
  if os.fork() == 0:  # The forwarder: nothing but os calls, then _exit.
    # Ctrl-C and kill reach the whole process group; the forwarder must outlive the
    # program to pass on its last words ("error: interrupted ..."), and ends at EOF.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
      signal.signal(signum, signal.SIG_IGN)
    # Hold nothing but the pipe and the real stderr: a reader of the program's stdout
    # (or of any other pipe it inherited) sees EOF when the program ends, not later.
    os.closerange(0, 2)
    os.closerange(3, read_end)
    os.closerange(read_end + 1, os.sysconf("SC_OPEN_MAX"))
    try:
      forward(read_end, 2)
    finally:
      os._exit(0)
  os.close(read_end)
  os.dup2(write_end, 2)
  os.close(write_end)
