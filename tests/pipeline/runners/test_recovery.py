"""The run lock against a real second process: held, deleted, replaced, released by death."""

import os
import shutil
import subprocess
import sys

import pytest

from pipeline.runners.recovery import RunLockedError, run_lock

# Holds the lock, says so, then waits until its stdin closes (or it is killed).
HOLDER = ("import sys; from pipeline.runners.recovery import run_lock\n"
          "with run_lock(sys.argv[1]):\n  print('held', flush=True); sys.stdin.read()")


@pytest.fixture
def holder(tmp_path):
  """A live process holding the lock at `tmp_path/metadata/p/run.lock`; killed afterwards."""
  lock = str(tmp_path / "metadata" / "p" / "run.lock")
  proc = subprocess.Popen([sys.executable, "-c", HOLDER, lock], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True)
  try:
    assert proc.stdout.readline() == "held\n"
    yield proc, lock
  finally:
    proc.kill()
    proc.wait(30)


def test_a_second_run_is_refused_naming_the_first(holder):
  proc, lock = holder
  with pytest.raises(RunLockedError, match=rf"^another run \(pid {proc.pid}\) is using "
                     rf"{os.path.dirname(lock)}; wait for it to finish"), run_lock(lock):
    pass


def test_deleting_the_lock_file_does_not_let_a_second_run_in(holder):
  proc, lock = holder
  os.remove(lock)
  with pytest.raises(RunLockedError, match=r"another run \(pid unknown: its run.lock was "
                     r"deleted or not yet written\) is using"), run_lock(lock):
    pass
  proc.kill()  # The kernel releases the lock of a killed run.
  proc.wait(30)
  with run_lock(lock), open(lock) as f:
    assert f.read() == f"{os.getpid()}\n"


def test_a_directory_replaced_under_a_run_is_locked_anew(tmp_path):
  lock = str(tmp_path / "p" / "run.lock")
  with run_lock(lock):
    moved = str(tmp_path / "moved")
    shutil.move(os.path.dirname(lock), moved)  # The holder keeps the old inode.
    with run_lock(lock):  # The path now names a new, unlocked directory.
      assert os.path.exists(lock)
    with pytest.raises(RunLockedError), run_lock(os.path.join(moved, "run.lock")):
      pass
