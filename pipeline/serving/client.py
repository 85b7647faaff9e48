"""TF Serving requests for a pushed model, built the way the README shows them.

  python -m pipeline.serving.client body predict IMAGE... > predict.json   # REST :predict
  python -m pipeline.serving.client body classify IMAGE... > classify.json # REST :classify
  python -m pipeline.serving.client grpc --target localhost:8500 --model cnn IMAGE...

IMAGE is what `python -m pipeline predict` takes (PNG/JPEG files or an IDX images
file, with --limit). Each image travels as a serialized tf.Example with one
feature, `image_raw` (784 bytes), base64-encoded in JSON as TF Serving requires
for bytes (`{"b64": ...}`).
"""

import argparse
import base64
import json
import sys
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from pipeline.data import contract
from pipeline.data.idx import IdxError
from pipeline.serving import images, predict
from trainer_module.serving import serialize_examples

PREDICT_SIGNATURE = "serving_default"
CLASSIFY_SIGNATURE = "classification"


def _b64(data: bytes) -> Dict[str, str]:
  return {"b64": base64.b64encode(data).decode("ascii")}


def predict_body(pixels: np.ndarray) -> dict:
  """The JSON body of REST `POST /v1/models/<name>:predict` (row format, one named input)."""
  return {"signature_name": PREDICT_SIGNATURE,
          "instances": [{contract.EXAMPLES_INPUT: _b64(e)} for e in serialize_examples(pixels)]}


def classify_body(pixels: np.ndarray) -> dict:
  """The JSON body of REST `POST /v1/models/<name>:classify`: one feature dict per image."""
  return {"signature_name": CLASSIFY_SIGNATURE,
          "examples": [{contract.IMAGE_KEY: _b64(np.ascontiguousarray(row, np.uint8).tobytes())}
                       for row in pixels]}


def predict_request(model_name: str, pixels: np.ndarray):
  """A gRPC `PredictRequest` for `serving_default`: a DT_STRING [N] tensor of tf.Examples."""
  import tensorflow as tf
  from tensorflow_serving.apis import predict_pb2
  request = predict_pb2.PredictRequest()
  request.model_spec.name = model_name
  request.model_spec.signature_name = PREDICT_SIGNATURE
  request.inputs[contract.EXAMPLES_INPUT].CopyFrom(
      tf.make_tensor_proto(serialize_examples(pixels)))
  return request


def grpc_predict(target: str, model_name: str, pixels: np.ndarray, batch: int,
                 timeout_s: float = 30.0) -> Tuple[np.ndarray, np.ndarray]:
  """(probabilities [N, 10], classes [N]) from TF Serving's gRPC API at `target`.

  Sends at most `batch` images per request: the model refuses larger batches.
  """
  import grpc
  import tensorflow as tf
  from tensorflow_serving.apis import prediction_service_pb2_grpc
  probabilities, classes = [], []
  with grpc.insecure_channel(target) as channel:
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    for start in range(0, len(pixels), batch):
      response = stub.Predict(predict_request(model_name, pixels[start:start + batch]),
                              timeout=timeout_s)
      probabilities.append(tf.make_ndarray(response.outputs["probabilities"]))
      classes.append(tf.make_ndarray(response.outputs["classes"]))
  if not probabilities:
    return np.zeros((0, contract.NUM_CLASSES), np.float32), np.zeros((0,), np.int64)
  return np.concatenate(probabilities), np.concatenate(classes)


def build_parser() -> argparse.ArgumentParser:
  """`body` prints a REST request body; `grpc` queries a running TF Serving."""
  parser = argparse.ArgumentParser(prog="python -m pipeline.serving.client",
                                   description=__doc__.split("\n\n", maxsplit=1)[0])
  sub = parser.add_subparsers(dest="command", required=True)
  body = sub.add_parser("body", help="print the JSON body of a REST :predict or :classify")
  body.add_argument("api", choices=("predict", "classify"))
  grpc = sub.add_parser("grpc", help="Predict over gRPC; one line per image")
  grpc.add_argument("--target", default="localhost:8500", help="default: %(default)s")
  grpc.add_argument("--model", required=True, help="TF Serving's MODEL_NAME, e.g. cnn")
  grpc.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
  grpc.add_argument("--dataset", choices=sorted(contract.CLASS_NAMES),
                    help="names the classes (serving_default answers with indices)")
  for p in (body, grpc):
    p.add_argument("inputs", nargs="+", metavar="IMAGE")
    p.add_argument("--limit", type=int, help="at most this many images")
  return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
  """Reads the images, then prints a body or the gRPC answers; bad input is one line."""
  args = build_parser().parse_args(argv)
  try:
    if args.limit is not None and args.limit < 1:
      raise images.InputError(f"--limit must be at least 1, got {args.limit}")
    loaded = images.load_images(args.inputs, args.limit)
  except (images.InputError, IdxError) as e:
    sys.exit(f"error: {e}")
  for note in loaded.notes:
    print(note, file=sys.stderr)
  from trainer_module.export import MAX_BATCH
  if args.command == "body":
    if len(loaded.pixels) > MAX_BATCH:
      sys.exit(f"error: {len(loaded.pixels)} images in one request; the model takes at most "
               f"{MAX_BATCH}: use --limit, or send several requests")
    make = predict_body if args.api == "predict" else classify_body
    json.dump(make(loaded.pixels), sys.stdout)
    print()
    return
  import grpc
  try:
    probabilities, classes = grpc_predict(args.target, args.model, loaded.pixels, MAX_BATCH,
                                          args.timeout)
  except grpc.RpcError as e:  # Unreachable, unknown model, refused request: TF Serving says.
    sys.exit(f"error: TF Serving at {args.target}: {e.code().name}: {e.details()}")
  names = contract.class_names(args.dataset) if args.dataset else None
  print("\n".join(predict.format_lines(loaded.names, probabilities, classes, names)))


if __name__ == "__main__":
  main()
