"""Runs the standalone task as a TF_CONFIG cluster on this machine: one process per task.

  python -m trainer_module.cluster --workers 1 --ps 1 --evaluator -- \\
      --data-dir out/tfr --train-steps 1000 --export-dir out/models

Every task gets free ports on 127.0.0.1 and its own TF_CONFIG; their logs are
streamed with a `[task:index]` prefix. The parameter servers never exit on
their own, so they are stopped once the chief, the workers and the evaluator
are done. Any task failing, or the whole run passing --timeout, stops every
task and ends with one line naming the task.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional, Sequence, Tuple

TASK_MODULE = "trainer_module.task"


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


class _Task:
  """One task's process, its streamed stderr and its collected stdout."""

  def __init__(self, name: str, tf_config: dict, command: Sequence[str]):
    self.name = name
    env = {**os.environ, "TF_CONFIG": json.dumps(tf_config), "PYTHONUNBUFFERED": "1"}
    self.proc = subprocess.Popen(list(command), env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
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

  def stop(self) -> None:
    if self.proc.poll() is None:
      self.proc.terminate()
      try:
        self.proc.wait(10)
      except subprocess.TimeoutExpired:
        self.proc.kill()
        self.proc.wait()


def task_command(task_args: Sequence[str]) -> List[str]:
  """The standalone task with `task_args`, in this Python."""
  return [sys.executable, "-m", TASK_MODULE, *task_args]


def run_cluster(command: Sequence[str], workers: int, ps: int, evaluator: bool,
                timeout_s: float, chief_type: str = "chief") -> Dict[str, dict]:
  """Runs `command` once per task to completion; returns each task's JSON report by name.

  A task's report is the JSON object it prints last on stdout ({} if none).
  """
  tasks = [_Task(name, config, command)
           for name, config in task_configs(workers, ps, evaluator, chief_type)]
  deadline = time.monotonic() + timeout_s
  try:
    waiting = [t for t in tasks if not t.name.startswith("ps:")]
    while waiting:
      for task in list(waiting):
        status = task.proc.poll()
        if status is None:
          continue
        if status != 0:
          raise ClusterError(f"task {task.name} exited with status {status}: "
                             f"{task.tail[-1] if task.tail else '(no output)'}")
        waiting.remove(task)
      if waiting and time.monotonic() > deadline:
        raise ClusterError(f"timed out after {timeout_s:.0f} s waiting for "
                           f"{', '.join(t.name for t in waiting)}")
      time.sleep(0.5)
    return {t.name: t.report() for t in tasks if not t.name.startswith("ps:")}
  finally:
    for task in tasks:
      task.stop()


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
  try:
    reports = run_cluster(task_command(task_args), args.workers, args.ps, args.evaluator, args.timeout,
                          args.chief_type)
  except ClusterError as e:
    sys.exit(f"error: {e}")
  print(json.dumps(reports, indent=1, sort_keys=True))


if __name__ == "__main__":
  main()
