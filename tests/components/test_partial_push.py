"""Partial pushes carry their host; only this host's dead ones are removed."""

import os
import subprocess
import sys

import pytest

from components import partial_push
from components.partial_push import (
  PartialPush,
  parse_partial_push,
  partial_push_name,
  remove_dead_partial_pushes,
  this_host,
)


@pytest.fixture(scope="module")
def dead_pid():
  """The pid of a process that has exited (and been reaped)."""
  proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                        capture_output=True, text=True, check=True, timeout=60)
  return int(proc.stdout)


def test_names_round_trip_with_hyphenated_hosts():
  name = partial_push_name("1700000000", pid=42, host="serving-node-3")
  assert name == ".partial-serving-node-3-42-1700000000"
  assert parse_partial_push(name) == PartialPush("serving-node-3", 42, "1700000000")
  assert parse_partial_push(partial_push_name("17")) == PartialPush(this_host(), os.getpid(), "17")


@pytest.mark.parametrize("name", [".partial-123-1700000000",  # Older, host-less: owner unknown.
                                  ".partial--1-2", ".partial-h-x-2", "1700000000", ".fetch-1-2"])
def test_other_names_are_not_partial_pushes(name):
  assert parse_partial_push(name) is None


def test_only_this_hosts_dead_partials_are_removed(tmp_path, dead_pid):
  names = {"mine_dead": partial_push_name("1", pid=dead_pid),
           "mine_live": partial_push_name("2", pid=os.getpid()),
           "other_dead": partial_push_name("3", pid=dead_pid, host=this_host() + "-other"),
           "legacy_dead": f".partial-{dead_pid}-4",
           "version": "1700000000"}
  for name in names.values():
    os.makedirs(tmp_path / name / "variables")
  assert remove_dead_partial_pushes(str(tmp_path)) == [names["mine_dead"]]
  assert sorted(os.listdir(tmp_path)) == sorted(n for k, n in names.items() if k != "mine_dead")


def test_a_host_name_with_odd_characters_is_made_safe(monkeypatch):
  monkeypatch.setattr(partial_push.socket, "gethostname", lambda: "a/b c")
  assert this_host() == "a_b_c"
  assert "/" not in partial_push_name("1")
