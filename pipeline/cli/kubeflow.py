"""compile and submit: the pipeline for Vertex AI Pipelines and Kubeflow Pipelines.

Every flag is checked here, in one line each, before TFX loads.
"""

import argparse
import os
import sys

from pipeline import checks
from pipeline.cli import common
from pipeline.config import (DEFAULT_S3_SECRET, KFP2_TARGET, KFP_OUTPUT_ROOT, KFP_TARGET_FILES,
                             VertexTraining)
from pipeline.console import loading
from trainer_module import hparams as hp


def _vertex(name: str):
  """A Vertex AI pool setting's default, from `VertexTraining` (its one home)."""
  return common.field_default(VertexTraining, name)


def add_compile_command(sub) -> None:
  """compile: the pipeline for Vertex AI Pipelines and/or Kubeflow Pipelines."""
  comp = sub.add_parser(
      "compile", help="compile the pipeline for Vertex AI Pipelines and/or Kubeflow Pipelines",
      description="Writes, per --target: vertex -> pipeline.yaml, the KFP v2 pipeline spec "
      "(KubeflowV2DagRunner) that Vertex AI Pipelines runs; kubeflow -> "
      "pipeline-kubeflow-v1.yaml, the Argo workflow (KubeflowDagRunner, kfp 1.8) that "
      "open-source Kubeflow Pipelines runs. Both take the run-time parameters data_dir, "
      "train_steps and accuracy_threshold, defaulting to the values compiled in.")
  common.pipeline_args(comp)
  comp.add_argument("--target", action="append", choices=("vertex", "kubeflow"),
                    help="what to compile for; repeatable (default: both)")
  comp.add_argument("--output", help="the file to write, for one --target "
                    "(default: pipeline.yaml or pipeline-kubeflow-v1.yaml)")
  comp.add_argument("--image", default="mnist-tfx:0.1.0",
                    help="container image with this project installed (default: %(default)s)")
  comp.add_argument("--output-root", help="gs:// root for artifacts and pushed models "
                    f"(default: {KFP_OUTPUT_ROOT}, or the --pvc mount path)")
  comp.add_argument("--data-dir", help="gs:// directory holding the four IDX files "
                    "(default: OUTPUT_ROOT/idx/DATASET)")
  comp.add_argument("--s3-endpoint", help="--target kubeflow: every step reads and writes "
                    "s3:// paths through this endpoint, e.g. http://minio-service.kubeflow:9000")
  comp.add_argument("--s3-secret", help="Kubernetes secret with the keys accesskey and "
                    f"secretkey for --s3-endpoint (default: {DEFAULT_S3_SECRET})")
  common.beam_arg(comp, "DirectRunner; each Beam step runs one worker per core of its CPU request")
  comp.add_argument("--resources", action="append", default=[], metavar="STEP=CPU,MEM[,LIMIT]",
                    help="a step's CPU and memory requests and memory limit (Kubernetes "
                    "quantities; on Vertex AI, the limits), e.g. Trainer=4,8Gi,12Gi or "
                    "all=2,4Gi; repeatable, later ones win (default: sized per step, README)")
  comp.add_argument("--pvc", metavar="CLAIM[:MOUNT_PATH]",
                    help="--target kubeflow: mount this PersistentVolumeClaim in every step "
                    "(at /mnt/pipeline unless given) and keep the pipeline root, data and "
                    "pushed models under it; for clusters without object storage")
  vertex = comp.add_argument_group(
      "Vertex AI distributed training", "With --vertex-project, the Trainer runs as a Vertex "
      "AI custom job over worker pools: a chief, workers and parameter servers (TF_CONFIG is "
      "set by Vertex AI). Combine with --distribute.")
  vertex.add_argument("--vertex-project", help="Google Cloud project of the training job")
  vertex.add_argument("--vertex-region", default=_vertex("region"), help="default: %(default)s")
  vertex.add_argument("--vertex-machine-type", default=_vertex("machine_type"),
                      help="machine of every replica (default: %(default)s)")
  vertex.add_argument("--vertex-workers", type=int, default=_vertex("workers"),
                      help="workers besides the chief (default: %(default)s)")
  vertex.add_argument("--vertex-ps", type=int, default=_vertex("ps"),
                      help="parameter servers (default: %(default)s)")
  vertex.add_argument("--vertex-accelerator", metavar="TYPE:COUNT",
                      help="GPUs on the chief and each worker, e.g. NVIDIA_TESLA_T4:1 (needs an "
                      "image built with `make image GPU=1`)")
  comp.set_defaults(handler=compile_pipeline)


def add_submit_command(sub) -> None:
  """submit: start a run of a compiled file."""
  sbm = sub.add_parser(
      "submit", help="start a run of a compiled pipeline on Vertex AI or Kubeflow Pipelines",
      description="Submits pipeline.yaml (--target vertex, through google-cloud-aiplatform; "
      "--target kubeflow-v2, to open-source Kubeflow Pipelines 2.x through its v2beta1 REST "
      "API) or pipeline-kubeflow-v1.yaml (--target kubeflow, KFP's deprecated v1 path, "
      "through the kfp 1.8 client) and "
      "prints the run's URL. Every parameter the file declares gets its compiled default "
      "unless --param overrides it; unknown parameters are refused before any network call.")
  sbm.add_argument("--target", required=True, choices=("vertex", KFP2_TARGET, "kubeflow"))
  sbm.add_argument("--file", help="compiled file (default: the target's file from `compile`)")
  sbm.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="override a run-time parameter, e.g. train_steps=5000; repeatable")
  sbm.add_argument("--run-name", help="the run's display name (default: the pipeline's "
                   "name; Vertex AI job ids add the UTC time and a random suffix)")
  sbm.add_argument("--no-cache", dest="caching", action="store_false",
                   help="rerun every step: Vertex AI reuses no earlier task's outputs; on "
                   "Kubeflow, TFX reuses no earlier execution from ML Metadata and KFP's step "
                   "cache is bypassed")
  sbm.add_argument("--pipeline-root", help="this run's artifact root instead of the "
                   "compiled one, e.g. gs://BUCKET/mnist-tfx/pipelines/test")
  sbm.add_argument("--service-account", help="vertex: the run-as service account "
                   "(SA@PROJECT.iam.gserviceaccount.com); kubeflow: the Kubernetes service "
                   "account of the run's pods")
  vertex = sbm.add_argument_group("--target vertex")
  vertex.add_argument("--project", help="Google Cloud project")
  vertex.add_argument("--region", default=_vertex("region"), help="default: %(default)s")
  kfp2 = sbm.add_argument_group(f"--target {KFP2_TARGET} (also takes --host, --experiment, "
                                "--namespace and --token-file)")
  kfp2.add_argument("--wait", action="store_true", help="follow the run to its end, printing "
                    "each task's state; exit 1 unless it succeeds")
  kfp2.add_argument("--poll-seconds", type=float, default=10.0, help="default: %(default)s")
  kfp2.add_argument("--wait-timeout", type=float, default=6 * 3600.0,
                    help="seconds to follow the run (default: %(default)s)")
  kfp2.add_argument("--request-timeout", type=float, default=30.0,
                    help="seconds for each API call (default: %(default)s)")
  kubeflow = sbm.add_argument_group("--target kubeflow and kubeflow-v2")
  kubeflow.add_argument("--host", help="Kubeflow Pipelines API, e.g. http://127.0.0.1:8080")
  kubeflow.add_argument("--experiment", default="mnist-tfx", help="default: %(default)s")
  kubeflow.add_argument("--namespace", help="a multi-user install's profile namespace, where "
                        "the experiment and run are created")
  kubeflow.add_argument("--token-file", help="file holding a bearer token for the API "
                        "(default: the pod's projected token at "
                        "/var/run/secrets/kubeflow/pipelines/token when there is one); "
                        "mode 600, like an ssh key")
  kubeflow.add_argument("--allow-insecure-http", action="store_true",
                        help="send the token over plain http:// to another machine too (by "
                        "default only https:// or a loopback port-forward)")
  sbm.set_defaults(handler=submit_pipeline)


def compile_pipeline(args: argparse.Namespace) -> None:
  hparams, threshold = common.settings(args)
  targets = args.target or ["vertex", "kubeflow"]
  if args.output and len(targets) > 1:
    raise checks.UsageError("--output names one file: give one --target with it")
  vertex = _vertex_training(args, hparams)
  from pipeline.runners import pods
  volume = pods.parse_pvc(args.pvc)
  if volume and targets != ["kubeflow"]:
    raise checks.UsageError("--pvc mounts a Kubernetes volume, which Vertex AI Pipelines "
                            "cannot: add --target kubeflow")
  output_root = pods.under_volume(volume, args.output_root) if volume else args.output_root
  pod_settings = {"resources": pods.parse_resources(args.resources), "volume": volume}
  _check_s3_flags(args, targets)
  loading("TFX")
  from pipeline.runners import kubeflow
  config = kubeflow.kfp_config(hparams, threshold, output_root, args.data_dir, vertex,
                               args.beam_arg)
  for target in targets:
    output = checks.check_output_file(args.output or KFP_TARGET_FILES[target], "--output")
    extra = {}
    if args.s3_endpoint:
      from pipeline.runners import kubeflow_s3
      extra["op_funcs"] = [kubeflow_s3.s3_operator(
          args.s3_endpoint, args.s3_secret or DEFAULT_S3_SECRET)]
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
  from pipeline.data.s3 import endpoint_env
  endpoint_env(args.s3_endpoint)  # Raises ValueError, naming the flag, for a non-URL.


def submit_pipeline(args: argparse.Namespace) -> None:
  from pipeline.runners import run_options, submit
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
  from pipeline.runners import run_options, submit, submit_v2
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
