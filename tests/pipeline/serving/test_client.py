"""The README's TF Serving requests, built by the project's client and decoded as TF Serving
decodes them, then answered by the real SavedModel. No TF Serving binary can run here: the
REST bodies are decoded by the rules of its JSON API, and the gRPC client talks to a
PredictionService on 127.0.0.1 that runs the SavedModel's signature."""

import base64
import json
import os
import re
from concurrent import futures

import grpc
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from pipeline.data import contract, idx
from pipeline.serving import client
from tests.conftest import idx_name

# The serving commands moved from README.md to this docs page.
SERVING_DOC = os.path.join(os.path.dirname(__file__), "..", "..", "..", "docs",
                           "evaluation-and-serving.md")


def _pngs(tiny_tfrecords, tmp_path, count=12):
  """The first test images as 28x28 grayscale PNGs, and their labels."""
  directory = os.path.join(os.path.dirname(tiny_tfrecords), "idx")
  pixels = idx.read_images(os.path.join(directory, idx_name("test_images")), 0, count)
  paths = []
  for i, row in enumerate(pixels):
    paths.append(str(tmp_path / f"{i}.png"))
    Image.fromarray(row.reshape(28, 28)).save(paths[-1])
  return paths, idx.read_labels(os.path.join(directory, idx_name("test_labels")), 0, count)


def _body(capsys, *argv):
  """What the README's `python -m pipeline.serving.client body ...` prints, parsed."""
  client.main(list(argv))
  return json.loads(capsys.readouterr().out)


def _unb64(value):
  assert set(value) == {"b64"}  # TF Serving's JSON encoding of bytes.
  return base64.b64decode(value["b64"])


def test_the_serving_docs_show_these_commands():
  with open(SERVING_DOC, encoding="utf-8") as f:
    text = f.read()
  serving = text[text.index("\n## Serving"):]
  for command in ("python -m pipeline.serving.client body predict",
                  "python -m pipeline.serving.client body classify",
                  "python -m pipeline.serving.client grpc", ":predict", ":classify",
                  "MODEL_NAME=cnn", "8500:8500", "8501:8501"):
    assert command in serving, command


def test_rest_predict_body_decodes_into_examples_serving_default_classifies(
    served_model, tiny_tfrecords, tmp_path, capsys):
  paths, labels = _pngs(tiny_tfrecords, tmp_path)
  body = _body(capsys, "body", "predict", *paths)
  assert body["signature_name"] == "serving_default" and len(body["instances"]) == len(paths)
  # Row format with one named input: each instance's `examples` is a DT_STRING element.
  examples = [_unb64(instance[contract.EXAMPLES_INPUT]) for instance in body["instances"]]
  model = tf.saved_model.load(served_model[1])
  # The name the client sends is the one the exported signature takes.
  assert list(model.signatures["serving_default"].structured_input_signature[1]) == [
      contract.EXAMPLES_INPUT]
  out = model.signatures[body["signature_name"]](examples=tf.constant(examples))
  assert np.mean(out["classes"].numpy() == labels) > 0.9


def test_rest_classify_body_decodes_into_examples_the_classify_signature_names(
    served_model, tiny_tfrecords, tmp_path, capsys):
  paths, labels = _pngs(tiny_tfrecords, tmp_path)
  body = _body(capsys, "body", "classify", *paths)
  assert body["signature_name"] == "classification"
  # TF Serving turns each JSON object into a tf.Example, bytes features from {"b64": ...}.
  examples = [tf.train.Example(features=tf.train.Features(feature={
      key: tf.train.Feature(bytes_list=tf.train.BytesList(value=[_unb64(value)]))
      for key, value in example.items()})).SerializeToString() for example in body["examples"]]
  assert all(set(example) == {contract.IMAGE_KEY} for example in body["examples"])
  model = tf.saved_model.load(served_model[1])
  out = model.signatures[body["signature_name"]](inputs=tf.constant(examples))
  names = np.array(contract.CLASS_NAMES["fashion_mnist"])
  best = [row[np.argmax(scores)].decode() for row, scores in
          zip(out["classes"].numpy(), out["scores"].numpy())]
  assert np.mean(np.array(best) == names[labels]) > 0.9


class _Predictions(prediction_service_pb2_grpc.PredictionServiceServicer):
  """TF Serving's Predict, as far as this model needs it: the named signature, run."""

  def __init__(self, model):
    self.model = model
    self.requests = []

  def Predict(self, request, context):  # noqa: N802 (gRPC's name)
    self.requests.append(request)
    inputs = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
    out = self.model.signatures[request.model_spec.signature_name](**inputs)
    response = predict_pb2.PredictResponse()
    for key, value in out.items():
      response.outputs[key].CopyFrom(tf.make_tensor_proto(value.numpy()))
    return response


@pytest.fixture
def grpc_server(served_model):
  model = tf.saved_model.load(served_model[1])
  server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
  service = _Predictions(model)
  prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(service, server)
  port = server.add_insecure_port("127.0.0.1:0")
  server.start()
  yield f"127.0.0.1:{port}", service
  server.stop(grace=None)


def test_grpc_client_sends_batches_the_model_accepts(grpc_server, tiny_tfrecords, tmp_path,
                                                     capsys):
  target, service = grpc_server
  paths, labels = _pngs(tiny_tfrecords, tmp_path)
  pixels = np.stack([np.asarray(Image.open(p)).reshape(784) for p in paths])
  probabilities, classes = client.grpc_predict(target, "cnn", pixels, batch=5, timeout_s=60)
  assert [len(r.inputs["examples"].string_val) for r in service.requests] == [5, 5, 2]
  assert {r.model_spec.name for r in service.requests} == {"cnn"}
  assert probabilities.shape == (12, 10) and np.mean(classes == labels) > 0.9
  client.main(["grpc", "--target", target, "--model", "cnn", "--timeout", "60", *paths[:2]])
  out = capsys.readouterr().out.splitlines()
  line = rf"{re.escape(paths[0])}\s+class {classes[0]}\s+[01]\.\d{{4}}$"
  assert len(out) == 2 and re.match(line, out[0])


def test_an_unreachable_server_is_one_line(tiny_tfrecords, tmp_path):
  import socket
  with socket.socket() as s:  # A port that was free a moment ago, with nobody listening.
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  paths, _ = _pngs(tiny_tfrecords, tmp_path, count=1)
  with pytest.raises(SystemExit) as exit_info:
    client.main(["grpc", "--target", f"127.0.0.1:{port}", "--model", "cnn", "--timeout", "10",
                 *paths])
  assert str(exit_info.value).startswith(f"error: TF Serving at 127.0.0.1:{port}: UNAVAILABLE")
  assert "\n" not in str(exit_info.value)
