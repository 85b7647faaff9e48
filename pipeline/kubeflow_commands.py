"""`compile` and `submit`: the pipeline for Vertex AI Pipelines and Kubeflow Pipelines.

Every flag is checked here, in one line each, before TFX loads.
"""

import argparse
import os
import sys

from pipeline import checks, commands
from pipeline.config import KFP2_TARGET, KFP_TARGET_FILES, VertexTraining
from pipeline.console import loading
from trainer_module import hparams as hp


def compile_pipeline(args: argparse.Namespace) -> None:
  hparams, threshold = commands.settings(args)
  targets = args.target or ["vertex", "kubeflow"]
  if args.output and len(targets) > 1:
    raise checks.UsageError("--output names one file: give one --target with it")
  vertex = _vertex_training(args, hparams)
  from pipeline.runners import pods  # pylint: disable=import-outside-toplevel
  volume = pods.parse_pvc(args.pvc)
  if volume and targets != ["kubeflow"]:
    raise checks.UsageError("--pvc mounts a Kubernetes volume, which Vertex AI Pipelines "
                            "cannot: add --target kubeflow")
  output_root = pods.under_volume(volume, args.output_root) if volume else args.output_root
  pod_settings = {"resources": pods.parse_resources(args.resources), "volume": volume}
  _check_s3_flags(args, targets)
  loading("TFX")
  from pipeline.runners import kubeflow  # pylint: disable=import-outside-toplevel
  config = kubeflow.kfp_config(hparams, threshold, output_root, args.data_dir, vertex,
                               args.beam_arg)
  for target in targets:
    output = checks.check_output_file(args.output or KFP_TARGET_FILES[target], "--output")
    extra = {}
    if args.s3_endpoint:
      from pipeline.runners import kubeflow_s3  # pylint: disable=import-outside-toplevel
      extra["op_funcs"] = [kubeflow_s3.s3_operator(
          args.s3_endpoint, args.s3_secret or kubeflow_s3.DEFAULT_S3_SECRET)]
    written = kubeflow.COMPILERS[target](config, output, args.image,
                                         kubeflow.PodSettings(**pod_settings), **extra)
    print(f"wrote {written} ({target})")


def _vertex_training(args: argparse.Namespace, hparams: hp.HParams):
  """The Vertex AI worker pools of `compile --vertex-*`, checked against --distribute."""
  if args.vertex_project is None:
    if args.vertex_accelerator:
      raise checks.UsageError("--vertex-accelerator sets the Vertex AI worker pools: add "
                              "--vertex-project")
    return None
  kind, _, count = (args.vertex_accelerator or "").partition(":")
  if args.vertex_accelerator and not count.isdigit():
    raise checks.UsageError(f"--vertex-accelerator {args.vertex_accelerator}: write it as "
                            "TYPE:COUNT, e.g. NVIDIA_TESLA_T4:1")
  vertex = VertexTraining(project=args.vertex_project, image=args.image,
                          region=args.vertex_region, machine_type=args.vertex_machine_type,
                          workers=args.vertex_workers, ps=args.vertex_ps,
                          accelerator_type=kind or None, accelerator_count=int(count or 0))
  vertex.check_strategy(hparams.distribute)  # Before TF loads.
  return vertex


def _check_s3_flags(args: argparse.Namespace, targets) -> None:
  """--s3-endpoint/--s3-secret: for the kubeflow target only, the endpoint a URL."""
  if not (args.s3_endpoint or args.s3_secret):
    return
  if targets != ["kubeflow"]:
    raise checks.UsageError("--s3-endpoint and --s3-secret are for --target kubeflow (Vertex AI "
                            "reads gs:// only); add --target kubeflow")
  if not args.s3_endpoint:
    raise checks.UsageError("--s3-secret needs --s3-endpoint URL")
  from pipeline.data.s3 import endpoint_env  # pylint: disable=import-outside-toplevel
  endpoint_env(args.s3_endpoint)  # Raises ValueError, naming the flag, for a non-URL.


def submit_pipeline(args: argparse.Namespace) -> None:
  from pipeline.runners import run_options, submit  # pylint: disable=import-outside-toplevel
  if args.target == KFP2_TARGET:
    _submit_kfp2(args)
    return
  if args.target == "vertex" and (args.namespace or args.token_file):
    raise checks.UsageError("--namespace and --token-file are for --target kubeflow")
  needed = {"vertex": ("project",), "kubeflow": ("host",)}[args.target]
  for name in needed:
    if not getattr(args, name):
      raise checks.UsageError(f"--target {args.target} needs --{name}")
  path = args.file or KFP_TARGET_FILES[args.target]
  run = run_options.RunOptions(run_name=args.run_name, caching=args.caching,
                               pipeline_root=args.pipeline_root,
                               service_account=args.service_account)
  url = submit.submit(args.target, path, args.param, run, args.token_file,
                      args.allow_insecure_http, project=args.project, region=args.region,
                      host=args.host, experiment=args.experiment, namespace=args.namespace)
  print(f"submitted: {url}")


def _submit_kfp2(args: argparse.Namespace) -> None:
  """pipeline.yaml to open-source KFP 2.x through its v2beta1 API; --wait follows the run."""
  from pipeline.runners import run_options, submit, submit_v2  # pylint: disable=import-outside-toplevel
  if not args.host:
    raise checks.UsageError(f"--target {KFP2_TARGET} needs --host")
  if not args.caching:  # v2beta1 runs have no caching switch of their own.
    raise checks.UsageError(f"--no-cache: not available for --target {KFP2_TARGET}; compile "
                            "with caching off instead")
  path = args.file or KFP_TARGET_FILES[KFP2_TARGET]
  compiled = submit.load_compiled(path)
  values = submit.parameter_values(submit.declared_parameters(compiled), args.param)
  run_options.check_placeholders(path, compiled)
  token = run_options.bearer_token(args.token_file, dict(os.environ))
  if token:
    run_options.check_token_transport(args.host, args.allow_insecure_http)
  name = compiled.get("pipelineInfo", {}).get("name", "mnist-tfx")
  created = submit_v2.submit_v2(args.host, path, values, args.pipeline_root, args.namespace,
                                token, args.run_name or name, name, args.experiment,
                                timeout=args.request_timeout)
  print(f"submitted: {created['url']}")
  if args.wait:
    state = submit_v2.wait_for_run(args.host, created["run_id"], token, args.poll_seconds,
                                   args.wait_timeout, sys.stdout)
    if state != "SUCCEEDED":
      raise submit.SubmitError(f"run {created['run_id']} ended {state}: {created['url']}")
