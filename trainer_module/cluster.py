"""Runs the standalone task as a TF_CONFIG cluster on this machine: one process per task.

  python -m trainer_module.cluster --workers 1 --ps 1 --evaluator -- \\
      --data-dir out/tfr --train-steps 1000 --export-dir out/models

Every task gets free ports on 127.0.0.1 and its own TF_CONFIG; their logs are
streamed with a `[task:index]` prefix. The parameter servers never exit on
their own, so they are stopped once the chief, the workers and the evaluator
are done. Every task is watched, the ps included: any task failing, a ps
exiting while others run, or the whole run passing --timeout stops every task
within a second and ends with one line naming the task. SIGTERM, SIGHUP and
Ctrl-C stop every task too (each runs in a process group of its own, which is
stopped whole). Only SIGKILL of the launcher itself leaves the tasks running:
no process can act on its own SIGKILL.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional, Sequence, Tuple

from trainer_module.reports import to_json

TASK_MODULE = "trainer_module.task"
# Stop every task, as Ctrl-C does: a pod being stopped (SIGTERM), a closed terminal (SIGHUP).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class ClusterError(RuntimeError):
  """A task failed or the cluster ran out of time."""


def free_ports(count: int) -> List[int]:
  """`count` distinct ports free on 127.0.0.1 (held open together, so none repeats)."""
  sockets = []
  try:
    for _ in range(count):
      s = socket.socket()
      s.bind(("127.0.0.1", 0))
      sockets.append(s)
    return [s.getsockname()[1] for s in sockets]
  finally:
    for s in sockets:
      s.close()


def task_configs(workers: int, ps: int, evaluator: bool,
                 chief_type: str = "chief") -> List[Tuple[str, dict]]:
  """(name, TF_CONFIG) for a chief, `workers` workers, `ps` ps tasks and an evaluator."""
  sizes = {chief_type: 1, "worker": workers, "ps": ps}
  ports = iter(free_ports(sum(sizes.values())))
  cluster = {kind: [f"127.0.0.1:{next(ports)}" for _ in range(n)]
             for kind, n in sizes.items() if n}
  tasks = [(kind, i) for kind in cluster for i in range(len(cluster[kind]))]
  if evaluator:  # Not part of the cluster: it only reads checkpoints.
    tasks.append(("evaluator", 0))
  return [(f"{kind}:{i}", {"cluster": cluster, "task": {"type": kind, "index": i}})
          for kind, i in tasks]


class Stopped(Exception):
  """SIGTERM or SIGHUP reached the launcher; every task is being stopped."""

  def __init__(self, signum: int):
    super().__init__(signal.Signals(signum).name)
    self.signum = signum


def _stop_on_signal(signum, frame) -> None:
  for name in STOP_SIGNALS:  # A second signal must not cut the cleanup short.
    signal.signal(name, signal.SIG_IGN)
  raise Stopped(signum)


def describe_exit(status: int) -> str:
  """"exited with status 1" or "was killed by SIGKILL" (Popen gives -N for signal N)."""
  if status < 0:
    try:
      return f"was killed by {signal.Signals(-status).name}"
    except ValueError:
      return f"was killed by signal {-status}"
  return f"exited with status {status}"


class _Task:
  """One task's process (in a process group of its own), its streamed stderr, its stdout."""

  def __init__(self, name: str, tf_config: dict, command: Sequence[str]):
    self.name = name
    self.is_ps = name.startswith("ps:")
    env = {**os.environ, "TF_CONFIG": json.dumps(tf_config), "PYTHONUNBUFFERED": "1"}
    # Its own group, so that stopping it also stops whatever it started.
    self.proc = subprocess.Popen(list(command), env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, start_new_session=True)
    sys.stderr.write(f"[cluster] started {name}: pid {self.proc.pid}\n")
    self.stdout: List[str] = []
    self.tail: List[str] = []
    self._threads = [threading.Thread(target=self._pump, args=(s, keep), daemon=True)
                     for s, keep in ((self.proc.stdout, self.stdout), (self.proc.stderr, None))]
    for t in self._threads:
      t.start()

  def _pump(self, stream, keep: Optional[List[str]]) -> None:
    for line in stream:
      if keep is not None:
        keep.append(line)
      self.tail = (self.tail + [line.rstrip()])[-5:]
      sys.stderr.write(f"[{self.name}] {line}")

  def report(self) -> dict:
    for t in self._threads:
      t.join(10)
    text = "".join(self.stdout)
    return json.loads(text[text.index("{"):]) if "{" in text else {}

  def failure(self, status: int) -> str:
    """One line: this task, how it ended, and its last line of output."""
    return f"task {self.name} {describe_exit(status)}: " + (
        self.tail[-1] if self.tail else "(no output)")

  def signal_group(self, signum: int) -> None:
    try:
      os.killpg(self.proc.pid, signum)
    except ProcessLookupError:
      pass  # Nothing of it is left.


def stop_tasks(tasks: Sequence[_Task], grace_s: float = 10.0) -> None:
  """SIGTERM to every task's process group at once, SIGKILL to whatever is left after grace_s."""
  for task in tasks:
    if task.proc.poll() is None:
      task.signal_group(signal.SIGTERM)
  deadline = time.monotonic() + grace_s
  for task in tasks:
    try:
      task.proc.wait(max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
      pass
  for task in tasks:  # Stragglers, and anything a task started that outlived it.
    task.signal_group(signal.SIGKILL)
    task.proc.wait()


def _failed(tasks: Sequence[_Task], running: Sequence[_Task]) -> Optional[str]:
  """The first task that failed, or a ps that exited while `running` still ran; None if none.

  A ps is named first: when it dies, the others fail (or hang) because of it.
  """
  ended = [(t, t.proc.poll()) for t in sorted(tasks, key=lambda t: not t.is_ps)]
  for task, status in ended:
    if status is not None and (status != 0 or (task.is_ps and running)):
      others = ", ".join(t.name for t in running if t is not task)
      return task.failure(status) + (f" (while {others} still ran)" if task.is_ps else "")
  return None


def task_command(task_args: Sequence[str]) -> List[str]:
  """The standalone task with `task_args`, in this Python."""
  return [sys.executable, "-m", TASK_MODULE, *task_args]


def run_cluster(command: Sequence[str], workers: int, ps: int, evaluator: bool,
                timeout_s: float, chief_type: str = "chief",
                poll_s: float = 0.2) -> Dict[str, dict]:
  """Runs `command` once per task to completion; returns each task's JSON report by name.

  Every task is watched, the ps included: one that fails, or a ps that exits
  while others run, stops every task within `poll_s`. A task's report is the
  JSON object it prints last on stdout ({} if none). However this returns or
  raises (Stopped, KeyboardInterrupt included), no task is left running.
  """
  tasks: List[_Task] = []
  try:
    for name, config in task_configs(workers, ps, evaluator, chief_type):
      tasks.append(_Task(name, config, command))
    deadline = time.monotonic() + timeout_s
    running = [t for t in tasks if not t.is_ps]
    while running:
      failure = _failed(tasks, running)
      if failure:
        raise ClusterError(failure)
      running = [t for t in running if t.proc.poll() is None]
      if running and time.monotonic() > deadline:
        raise ClusterError(f"timed out after {timeout_s:.0f} s waiting for "
                           f"{', '.join(t.name for t in running)}")
      time.sleep(poll_s)
    return {t.name: t.report() for t in tasks if not t.is_ps}
  finally:
    stop_tasks(tasks)


def main(argv: Optional[List[str]] = None) -> None:
  """Parses the launcher's flags; everything after `--` goes to every task."""
  parser = argparse.ArgumentParser(prog="python -m trainer_module.cluster",
                                   formatter_class=argparse.RawDescriptionHelpFormatter,
                                   description=__doc__)
  parser.add_argument("--workers", type=int, default=1, help="workers besides the chief")
  parser.add_argument("--ps", type=int, default=1, help="parameter servers (0 for "
                      "--distribute multi_worker_mirrored)")
  parser.add_argument("--evaluator", action="store_true", help="add an evaluator task")
  parser.add_argument("--chief-type", choices=("chief", "master"), default="chief",
                      help="`master` is Cloud ML Engine's legacy name for the chief")
  parser.add_argument("--timeout", type=float, default=3600, help="seconds for the whole run")
  parser.add_argument("task_args", nargs=argparse.REMAINDER,
                      help=f"-- then the arguments of `python -m {TASK_MODULE}`")
  args = parser.parse_args(argv)
  task_args = args.task_args[1:] if args.task_args[:1] == ["--"] else args.task_args
  if not task_args:
    parser.error("give the task's arguments after --, e.g. -- --data-dir D --train-steps N "
                 "--export-dir E")
  if args.workers < 0 or args.ps < 0:
    parser.error("--workers and --ps must be 0 or more")
  for name in STOP_SIGNALS:
    signal.signal(name, _stop_on_signal)
  try:
    reports = run_cluster(task_command(task_args), args.workers, args.ps, args.evaluator,
                          args.timeout, args.chief_type)
  except ClusterError as e:
    sys.exit(f"error: {e}")
  except Stopped as e:
    print(f"error: stopped by {e}; every task was stopped", file=sys.stderr)
    sys.exit(128 + e.signum)
  except KeyboardInterrupt:
    print("error: interrupted; every task was stopped", file=sys.stderr)
    sys.exit(128 + signal.SIGINT)
  print(to_json(reports))


if __name__ == "__main__":
  from trainer_module.shutdown import run_program
  run_program(main, catch_signals=False)  # main's own handlers stop the tasks first.
