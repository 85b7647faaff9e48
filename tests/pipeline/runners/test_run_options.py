"""What `submit` checks and prepares before any network call: placeholders, run ids,
the bearer token, and a workflow with its caches off."""

import datetime
import json
import os
import re

import pytest
import yaml

from pipeline.checks import UsageError
from pipeline.runners import run_options

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
FILES = [os.path.join(REPO, "pipeline.yaml"), os.path.join(REPO, "pipeline-kubeflow-v1.yaml")]


def _load(path: str, text_edit=lambda t: t) -> dict:
  with open(path) as f:
    return yaml.safe_load(text_edit(f.read()))


@pytest.mark.parametrize("path", FILES)
def test_committed_files_are_refused_for_their_placeholder_bucket(path):
  with pytest.raises(UsageError) as error:
    run_options.check_placeholders(path, _load(path))
  message = str(error.value)
  assert "still names gs://YOUR_BUCKET" in message and "\n" not in message
  assert "python -m pipeline compile --image REGISTRY/mnist-tfx:TAG --output-root" in message


@pytest.mark.parametrize("path", FILES)
def test_an_image_without_a_registry_is_refused(path):
  compiled = _load(path, lambda t: t.replace("YOUR_BUCKET", "team-bucket"))
  with pytest.raises(UsageError, match="uses the image mnist-tfx:0.1.0, which names no "
                                       "registry, so no cluster can pull it"):
    run_options.check_placeholders(path, compiled)
  ready = _load(path, lambda t: t.replace("YOUR_BUCKET", "team-bucket").replace(
      "mnist-tfx:0.1.0", "europe-docker.pkg.dev/p/r/mnist-tfx:0.1.0"))
  run_options.check_placeholders(path, ready)  # Nothing left to refuse.


def test_an_image_in_vertex_worker_pools_is_checked_too():
  pools = {"custom_config": json.dumps({"ai_platform_training_args": {"job_spec": {
      "worker_pool_specs": [{"container_spec": {"image_uri": "me/mnist:1"}}]}}})}
  with pytest.raises(UsageError, match="uses the image me/mnist:1"):
    run_options.check_placeholders("p.yaml", {"image": "gcr.io/p/mnist:1", "params": pools})


@pytest.mark.parametrize("image, has_host", [
    ("gcr.io/p/mnist:1", True), ("localhost:5000/mnist", True), ("localhost/mnist:x", True),
    ("registry.example.com:443/team/mnist@sha256:ab", True), ("mnist-tfx:0.1.0", False),
    ("team/mnist:1", False)])
def test_registry_hosts_are_told_apart_from_docker_hub_shorthands(image, has_host):
  assert run_options.has_registry_host(image) is has_host


def test_run_ids_in_the_same_second_differ_and_are_valid_vertex_job_ids():
  now = datetime.datetime(2026, 11, 30, 4, 5, 6, tzinfo=datetime.timezone.utc)
  ids = {run_options.run_id("mnist-tfx-fashion-mnist", now) for _ in range(50)}
  assert len(ids) == 50
  for run in ids | {run_options.run_id("Nightly run #3", now), run_options.run_id("7 up", now)}:
    assert re.fullmatch(r"[a-z][-a-z0-9]{0,127}", run), run
  assert min(ids).startswith("mnist-tfx-fashion-mnist-20261130-040506-")


def test_bearer_token_from_a_file_or_the_pods_projected_token(tmp_path):
  token = tmp_path / "token"
  token.write_text("abc.def\n")
  token.chmod(0o600)
  assert run_options.bearer_token(str(token), {}) == "abc.def"
  projected = tmp_path / "projected"
  projected.write_text("abc.def\n")
  projected.chmod(0o644)  # The kubelet's default mode for a projected volume: accepted.
  assert run_options.bearer_token(None, {"KF_PIPELINES_SA_TOKEN_PATH": str(projected)}) == (
      "abc.def")
  assert run_options.bearer_token(None, {"KF_PIPELINES_SA_TOKEN_PATH":
                                         str(tmp_path / "none")}) is None
  with pytest.raises(UsageError, match=r"--token-file .*missing: No such file or directory; "):
    run_options.bearer_token(str(tmp_path / "missing"), {})
  (tmp_path / "empty").write_text("\n")
  (tmp_path / "empty").chmod(0o600)
  with pytest.raises(UsageError, match="is empty; write the bearer token into it"):
    run_options.bearer_token(str(tmp_path / "empty"), {})


@pytest.mark.parametrize("mode", [0o666, 0o644, 0o640, 0o620, 0o604], ids=oct)
def test_a_token_file_open_to_group_or_others_is_refused_like_an_ssh_key(tmp_path, mode):
  path = tmp_path / "my token"
  path.write_text("eyJ.secret\n")
  path.chmod(mode)
  with pytest.raises(UsageError) as refused:
    run_options.bearer_token(str(path), {})
  assert str(refused.value) == (f"--token-file {path} is open to group or others (mode "
                                f"{mode:04o}); a token is a password: chmod 600 '{path}'")
  path.chmod(0o600)  # What the message says to do.
  assert run_options.bearer_token(str(path), {}) == "eyJ.secret"
  path.chmod(0o400)
  assert run_options.bearer_token(str(path), {}) == "eyJ.secret"


@pytest.mark.parametrize("content, message", [
    (b"x" * (64 << 10) + b"y", "is over 64 KiB: not a bearer token"),
    (b"Bearer eyJ.secret\n", "a bearer token is one word of ASCII"),
    ("eyJ.s\u00e9cret".encode(), "a bearer token is one word of ASCII"),
])
def test_a_token_file_that_holds_no_token_is_refused_without_echoing_it(tmp_path, content,
                                                                       message):
  path = tmp_path / "token"
  path.write_bytes(content)
  path.chmod(0o600)
  with pytest.raises(UsageError, match=message) as refused:
    run_options.bearer_token(str(path), {})
  assert "secret" not in str(refused.value) and "xxx" not in str(refused.value)


@pytest.mark.parametrize("host", [
    "https://kfp.example.com", "http://127.0.0.1:8080", "http://127.1.2.3", "http://[::1]:8080",
    "http://localhost:8080", "127.0.0.1:8080"])
def test_a_token_may_go_over_https_or_to_this_machine(host):
  run_options.check_token_transport(host, allow_insecure_http=False)


@pytest.mark.parametrize("host, scheme", [
    ("http://10.0.0.5:8080", "http"), ("http://kfp.example.com", "http"),
    ("http://ml-pipeline.kubeflow:8888", "http"), ("10.0.0.5:8080", "http"),
    ("http://localhost.example.com", "http"), ("ftp://kfp.example.com", "ftp")])
def test_a_token_over_plain_http_to_another_machine_needs_the_flag(host, scheme):
  with pytest.raises(UsageError) as refused:
    run_options.check_token_transport(host, allow_insecure_http=False)
  assert str(refused.value) == (
      f"--host {host}: the bearer token would travel unencrypted over {scheme}:// to another "
      "machine; use https://, a port-forward to http://127.0.0.1:PORT, or --allow-insecure-http "
      "on a network you trust")
  run_options.check_token_transport(host, allow_insecure_http=True)


def test_without_cache_turns_off_tfx_and_kfp_caches_in_every_step():
  workflow = _load(FILES[1])
  off = run_options.without_cache(workflow)
  steps = [t for t in off["spec"]["templates"] if "container" in t]
  assert len(steps) == 9
  for template in steps:
    args = template["container"]["args"]
    ir = json.loads(args[args.index("--tfx_ir") + 1])
    assert [n["pipelineNode"]["executionOptions"]["cachingOptions"] for n in ir["nodes"]] == [
        {"enableCache": False}]
    assert template["metadata"]["labels"]["pipelines.kubeflow.org/enable_caching"] == "false"
    assert template["metadata"]["annotations"][
        "pipelines.kubeflow.org/max_cache_staleness"] == "P0D"
  # The original is untouched, and nothing else changed.
  first = workflow["spec"]["templates"][0]["container"]["args"]
  assert json.loads(first[first.index("--tfx_ir") + 1])["nodes"][0]["pipelineNode"][
      "executionOptions"]["cachingOptions"] == {"enableCache": True}
  assert off["spec"]["arguments"] == workflow["spec"]["arguments"]
