"""Compile-time pod settings: resources per step, the PVC flag, and the Beam workers
that follow a step's CPU request."""

import pytest

from pipeline.checks import UsageError
from pipeline.runners import pods


def test_defaults_cover_every_step_with_requests_under_limits():
  assert set(pods.DEFAULT_RESOURCES) == {
      "FileBasedExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator", "AnomalyGate",
      "Trainer", "ServedBaseline", "Evaluator", "Pusher"}
  for step in pods.DEFAULT_RESOURCES.values():
    assert pods.memory_bytes(step.memory) <= pods.memory_bytes(step.memory_limit)
    assert pods.cpu_cores(step.cpu) > 0


def test_flags_override_one_step_or_all_and_later_flags_win():
  resources = pods.parse_resources(["all=1,2Gi", "trainer=4,8Gi,12Gi"])
  assert resources["Trainer"] == pods.StepResources("4", "8Gi", "12Gi")
  assert resources["Evaluator"] == pods.StepResources("1", "2Gi", "2Gi")  # LIMIT = MEMORY.
  assert pods.parse_resources([]) == pods.DEFAULT_RESOURCES


@pytest.mark.parametrize("flag, message", [
    ("Trainer", "--resources 'Trainer': write it as STEP=CPU,MEMORY[,LIMIT]"),
    ("Trainer=4", "--resources 'Trainer=4': write it as STEP=CPU,MEMORY[,LIMIT]"),
    ("Tuner=1,1Gi", "--resources 'Tuner=1,1Gi': unknown step 'Tuner'; choose all or one of "),
    ("Trainer=two,1Gi", "--resources: CPU 'two' is not a Kubernetes quantity"),
    ("Trainer=1,lots", "--resources: memory 'lots' is not a Kubernetes quantity"),
    ("Trainer=0,1Gi", "--resources: CPU '0' must be more than 0"),
    ("Trainer=1,4Gi,2Gi", "--resources: memory limit 2Gi is below the request 4Gi"),
])
def test_bad_resources_are_one_line_naming_the_flag(flag, message):
  with pytest.raises(UsageError) as error:
    pods.parse_resources([flag])
  assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_quantities_read_as_kubernetes_reads_them():
  assert pods.cpu_cores("500m") == 0.5 and pods.cpu_cores("1.5") == 1.5
  assert pods.memory_bytes("3Gi") == 3 * 2**30 and pods.memory_bytes("512M") == 512e6


def test_beam_workers_follow_the_cpu_request_not_the_node():
  assert pods.beam_args_for(pods.StepResources("4", "4Gi", "4Gi"), []) == (
      "--direct_running_mode=multi_processing", "--direct_num_workers=4")
  # Under two cores, no worker process: its TF import would cost more than it gains.
  for cpu in ("1", "1.9", "250m"):
    assert pods.beam_args_for(pods.StepResources(cpu, "1Gi", "1Gi"), []) == (
        "--direct_running_mode=in_memory", "--direct_num_workers=1")
  # The user's own DirectRunner settings are kept.
  assert pods.beam_args_for(pods.StepResources("4", "4Gi", "4Gi"),
                            ["--direct_num_workers=8"]) == ()


def test_pvc_flag_and_the_root_under_it():
  assert pods.parse_pvc(None) is None
  assert pods.parse_pvc("data") == pods.Volume("data", "/mnt/pipeline")
  volume = pods.parse_pvc("team-data:/srv/tfx/")
  assert volume == pods.Volume("team-data", "/srv/tfx")
  assert pods.under_volume(volume, None) == "/srv/tfx"
  assert pods.under_volume(volume, "/srv/tfx/mnist") == "/srv/tfx/mnist"
  with pytest.raises(UsageError, match="--output-root gs://b/x is not under the --pvc mount "
                                       "path /srv/tfx"):
    pods.under_volume(volume, "gs://b/x")
  with pytest.raises(UsageError, match="is not a Kubernetes claim name"):
    pods.parse_pvc("Team_Data")
  with pytest.raises(UsageError, match="the mount path must be an absolute directory"):
    pods.parse_pvc("data:relative/dir")
