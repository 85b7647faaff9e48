"""Reading TF_CONFIG and refusing distribution settings that cannot train."""

import json

import pytest

from trainer_module.distribution import ClusterRole, check_distribution, cluster_role
from trainer_module.hparams import InvalidSetting

CLUSTER = {"chief": ["h:1"], "worker": ["h:2"], "ps": ["h:3"]}


def _env(task_type, index=0, cluster=None):
  return {"TF_CONFIG": json.dumps({"cluster": cluster or CLUSTER,
                                   "task": {"type": task_type, "index": index}})}


@pytest.mark.parametrize("env,name,chief", [
    ({}, "local", True),
    ({"TF_CONFIG": ""}, "local", True),
    (_env("chief"), "chief:0", True),
    (_env("worker"), "worker:0", False),
    (_env("ps"), "ps:0", False),
    (_env("evaluator"), "evaluator:0", False),
    (_env("master", cluster={"master": ["h:1"], "worker": ["h:2"]}), "master:0", True),
])
def test_role_and_chief_as_tfx_decides(env, name, chief):
  role = cluster_role(env)
  assert (role.name, role.is_chief) == (name, chief)


@pytest.mark.parametrize("env,message", [
    ({"TF_CONFIG": "{not json"}, "TF_CONFIG is not a JSON object with cluster and task"),
    (_env("gpu_worker"), "TF_CONFIG task type 'gpu_worker' is not one of"),
])
def test_bad_tf_config_is_named(env, message):
  with pytest.raises(InvalidSetting, match=message):
    cluster_role(env)


@pytest.mark.parametrize("distribute,role,message", [
    ("parameter_server", ClusterRole(), "parameter_server needs a TF_CONFIG cluster with at "
     "least one ps task"),
    ("multi_worker_mirrored", cluster_role(_env("worker")), "cannot use ps tasks"),
    ("multi_worker_mirrored", cluster_role(_env("evaluator", cluster={"chief": ["h:1"]})),
     "no separate evaluator task"),
])
def test_impossible_combinations_are_refused(distribute, role, message):
  with pytest.raises(InvalidSetting, match=message):
    check_distribution(distribute, role)


def test_possible_combinations_pass():
  check_distribution("none", ClusterRole())
  check_distribution("parameter_server", cluster_role(_env("worker")))
  check_distribution("multi_worker_mirrored", cluster_role(_env("chief", cluster={
      "chief": ["h:1"], "worker": ["h:2"]})))
