"""The `compile` and `submit` command lines (pipeline.kubeflow_commands does the work)."""

from pipeline import cli_args as shared
from pipeline.config import KFP2_TARGET


def add_compile_command(sub) -> None:
  """compile: the pipeline for Vertex AI Pipelines and/or Kubeflow Pipelines."""
  comp = sub.add_parser(
      "compile", help="compile the pipeline for Vertex AI Pipelines and/or Kubeflow Pipelines",
      description="Writes, per --target: vertex -> pipeline.yaml, the KFP v2 pipeline spec "
      "(KubeflowV2DagRunner) that Vertex AI Pipelines runs; kubeflow -> "
      "pipeline-kubeflow-v1.yaml, the Argo workflow (KubeflowDagRunner, kfp 1.8) that "
      "open-source Kubeflow Pipelines runs. Both take the run-time parameters data_dir, "
      "train_steps and accuracy_threshold, defaulting to the values compiled in.")
  shared.pipeline_args(comp)
  comp.add_argument("--target", action="append", choices=("vertex", "kubeflow"),
                    help="what to compile for; repeatable (default: both)")
  comp.add_argument("--output", help="the file to write, for one --target "
                    "(default: pipeline.yaml or pipeline-kubeflow-v1.yaml)")
  comp.add_argument("--image", default="mnist-tfx:0.1.0",
                    help="container image with this project installed (default: %(default)s)")
  comp.add_argument("--output-root", help="gs:// root for artifacts and pushed models "
                    "(default: gs://YOUR_BUCKET/mnist-tfx, or the --pvc mount path)")
  comp.add_argument("--data-dir", help="gs:// directory holding the four IDX files "
                    "(default: OUTPUT_ROOT/idx/DATASET)")
  comp.add_argument("--s3-endpoint", help="--target kubeflow: every step reads and writes "
                    "s3:// paths through this endpoint, e.g. http://minio-service.kubeflow:9000")
  comp.add_argument("--s3-secret", help="Kubernetes secret with the keys accesskey and "
                    "secretkey for --s3-endpoint (default: mlpipeline-minio-artifact)")
  shared.beam_arg(comp, "DirectRunner; each Beam step runs one worker per core of its CPU request")
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
  vertex.add_argument("--vertex-region", default="us-central1", help="default: us-central1")
  vertex.add_argument("--vertex-machine-type", default="n1-standard-4",
                      help="machine of every replica (default: n1-standard-4)")
  vertex.add_argument("--vertex-workers", type=int, default=3, help="workers besides the "
                      "chief (default: 3)")
  vertex.add_argument("--vertex-ps", type=int, default=3, help="parameter servers (default: 3)")
  vertex.add_argument("--vertex-accelerator", metavar="TYPE:COUNT",
                      help="GPUs on the chief and each worker, e.g. NVIDIA_TESLA_T4:1 (needs an "
                      "image built with `make image GPU=1`)")


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
  vertex.add_argument("--region", default="us-central1", help="default: us-central1")
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
  kubeflow.add_argument("--experiment", default="mnist-tfx", help="default: mnist-tfx")
  kubeflow.add_argument("--namespace", help="a multi-user install's profile namespace, where "
                        "the experiment and run are created")
  kubeflow.add_argument("--token-file", help="file holding a bearer token for the API "
                        "(default: the pod's projected token at "
                        "/var/run/secrets/kubeflow/pipelines/token when there is one); "
                        "mode 600, like an ssh key")
  kubeflow.add_argument("--allow-insecure-http", action="store_true",
                        help="send the token over plain http:// to another machine too (by "
                        "default only https:// or a loopback port-forward)")
