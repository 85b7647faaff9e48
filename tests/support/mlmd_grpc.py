"""A gRPC ML Metadata service on 127.0.0.1, as Kubeflow Pipelines deploys one.

The ml-metadata wheel ships no server binary (KFP runs
`gcr.io/tfx-oss-public/ml_metadata_store_server`), so this serves
`ml_metadata.MetadataStoreService` with grpcio and forwards each call's
serialized request, unchanged, to MLMD's own C++ store on a SQLite file: the
same code the server binary wraps. Errors keep their MLMD status code.

`unimplemented` names RPCs to answer with UNIMPLEMENTED, as an older server
does: `MLMD_1_5_0_MISSING` is what the 1.5.0 server (KFP 1.8.x, 2.0.0) lacks.
"""

import collections
import threading
from concurrent import futures
from typing import Callable, Counter, FrozenSet, Iterable

import grpc
from ml_metadata.metadata_store.pywrap import metadata_store_extension
from ml_metadata.proto import metadata_store_pb2, metadata_store_service_pb2

SERVICE = "ml_metadata.MetadataStoreService"
# The RPCs of ml_metadata/proto/metadata_store_service.proto at v1.15.0 that are not in it
# at v1.5.0 (`git diff v1.5.0 v1.15.0` of google/ml-metadata): the 1.5.0 server answers
# UNIMPLEMENTED to each.
MLMD_1_5_0_MISSING = frozenset({
    "GetArtifactTypesByExternalIds", "GetArtifactsByExternalIds",
    "GetChildrenContextsByContexts", "GetContextTypesByExternalIds",
    "GetContextsByExternalIds", "GetExecutionTypesByExternalIds",
    "GetExecutionsByExternalIds", "GetLineageSubgraph", "GetParentContextsByContexts",
    "PutLineageSubgraph"})
_CODES = {code.value[0]: code for code in grpc.StatusCode}
# The C++ store's functions, one per RPC, taking and returning serialized protos.
_CC = metadata_store_extension.metadata_store


class MetadataService:
  """The service over one SQLite file; `calls` counts each RPC, `refused` the UNIMPLEMENTED ones.

  Use as a context manager; `port` is the bound port.
  """

  def __init__(self, sqlite_path: str, unimplemented: Iterable[str] = ()):
    self.sqlite_path = sqlite_path
    self.unimplemented: FrozenSet[str] = frozenset(unimplemented)
    self.calls: Counter[str] = collections.Counter()
    self.refused: Counter[str] = collections.Counter()
    self.port = 0
    self._lock = threading.Lock()  # One SQLite connection: one call at a time.
    self._store = None
    self._server = None

  def __enter__(self) -> "MetadataService":  # noqa: PYI034
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = self.sqlite_path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    self._store = _CC.CreateMetadataStore(
        config.SerializeToString(),
        metadata_store_pb2.MigrationOptions(enable_upgrade_migration=True).SerializeToString())
    methods = metadata_store_service_pb2.DESCRIPTOR.services_by_name[
        "MetadataStoreService"].methods_by_name
    handlers = {name: grpc.unary_unary_rpc_method_handler(self._handler(name))
                for name in methods}  # No (de)serializers: requests and responses stay bytes.
    self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    self._server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE,
                                                                                handlers),))
    self.port = self._server.add_insecure_port("127.0.0.1:0")
    self._server.start()
    return self

  def config_maps(self) -> dict:
    """The cluster's `metadata-grpc-configmap`, as KFP's pods read it, pointing here."""
    return {"metadata-grpc-configmap": {"METADATA_GRPC_SERVICE_HOST": "127.0.0.1",
                                        "METADATA_GRPC_SERVICE_PORT": str(self.port)}}

  def __exit__(self, *exc) -> None:
    self._server.stop(grace=None)
    self._server = self._store = None

  def _handler(self, name: str) -> Callable[[bytes, grpc.ServicerContext], bytes]:
    """Forwards one RPC by name to the C++ store's function of the same name."""
    method = getattr(_CC, name, None)

    def handle(request: bytes, context: grpc.ServicerContext) -> bytes:
      with self._lock:
        self.calls[name] += 1
        if method is None or name in self.unimplemented:
          self.refused[name] += 1
          context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{name} is not implemented")
        response, message, code = method(self._store, request)
      if code:
        context.abort(_CODES.get(code, grpc.StatusCode.UNKNOWN), message.decode(errors="replace"))
      return response
    return handle
