"""Drives a pipec server over TLS with real clients: Python's urllib (ssl) for REST, grpcio and
NVIDIA's Triton gRPC client for gRPC.

Usage:
  tls_clients.py server HTTP_ADDRESS GRPC_ADDRESS CERTS_DIR
      A server with --tls-cert/--tls-key: HTTPS health and inference, verified against the
      test CA; plain HTTP to the same port gets no HTTP answer; gRPC over TLS (a raw stub and
      the Triton client with ssl=True) scores; a client that does not trust the CA fails.
  tls_clients.py mutual HTTP_ADDRESS GRPC_ADDRESS CERTS_DIR
      A server with --tls-client-ca too: without a client certificate, or with one from
      another CA, REST and gRPC fail during the handshake; with the test client's certificate
      they score.

CERTS_DIR holds ca.pem, client.pem, client.key, rogue.pem, rogue.key. Prints one JSON line
with what it saw; exits non-zero on any mismatch.
"""

import http.client
import json
import ssl
import struct
import sys
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import numpy as np
import tritonclient.grpc as grpcclient

MODEL = "titanic"
ROW = {"age": 29.0, "sibsp": 0.0, "parch": 0.0, "sex": "female", "pclass": "1st"}


def expect(condition, message):
    if not condition:
        raise SystemExit(f"FAIL: {message}")


def context(certs, client=None):
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    if client is not None:
        ctx.load_cert_chain(str(certs / f"{client}.pem"), str(certs / f"{client}.key"))
    return ctx


def rest(url, ctx, body=None):
    """(status, JSON) or ("error", the exception's text): a failed handshake, or no HTTP
    answer at all (a TLS alert read as a status line)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, context=ctx, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except (urllib.error.URLError, ssl.SSLError, http.client.HTTPException, OSError) as e:
        return "error", str(e)


def infer_body():
    inputs = []
    for name, value in ROW.items():
        datatype = "BYTES" if isinstance(value, str) else "FP32"
        inputs.append({"name": name, "shape": [1], "datatype": datatype, "data": [value]})
    return {"inputs": inputs}


def raw_request():
    request = grpcclient.service_pb2.ModelInferRequest(model_name=MODEL)
    for name, value in ROW.items():
        tensor = request.inputs.add(name=name, datatype="BYTES" if isinstance(value, str) else "FP32")
        tensor.shape.append(1)
        if isinstance(value, str):
            raw = value.encode()
            request.raw_input_contents.append(struct.pack("<I", len(raw)) + raw)
        else:
            request.raw_input_contents.append(struct.pack("<f", value))
    return request


def grpc_infer(address, certs, client=None):
    """"OK" or the gRPC status code's name."""
    key = chain = None
    if client is not None:
        key = (certs / f"{client}.key").read_bytes()
        chain = (certs / f"{client}.pem").read_bytes()
    credentials = grpc.ssl_channel_credentials(
        root_certificates=(certs / "ca.pem").read_bytes(), private_key=key, certificate_chain=chain)
    with grpc.secure_channel(address, credentials) as channel:
        stub = grpcclient.service_pb2_grpc.GRPCInferenceServiceStub(channel)
        try:
            response = stub.ModelInfer(raw_request(), timeout=30)
            expect(len(response.raw_output_contents) > 0, "a gRPC answer without outputs")
            return "OK"
        except grpc.RpcError as e:
            return str(e.code())


def triton_infer(address, certs, client=None):
    options = {"ssl": True, "root_certificates": str(certs / "ca.pem")}
    if client is not None:
        options["private_key"] = str(certs / f"{client}.key")
        options["certificate_chain"] = str(certs / f"{client}.pem")
    triton = grpcclient.InferenceServerClient(url=address, **options)
    inputs = []
    for name, value in ROW.items():
        datatype = "BYTES" if isinstance(value, str) else "FP32"
        tensor = grpcclient.InferInput(name, [1], datatype)
        array = np.array([value.encode()], dtype=np.object_) if isinstance(value, str) else np.array([value], dtype=np.float32)
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    result = triton.infer(MODEL, inputs)
    return float(result.as_numpy("p_survived")[0])


def server(http, grpc_address, certs):
    ctx = context(certs)
    seen = {}
    seen["ready"] = rest(f"https://{http}/v2/health/ready", ctx)
    expect(seen["ready"][0] == 200, f"HTTPS readiness: {seen['ready']}")
    status, body = rest(f"https://{http}/v2/models/{MODEL}/infer", ctx, infer_body())
    expect(status == 200, f"HTTPS inference: {status} {body}")
    seen["p_survived"] = body["outputs"][0]["data"][0]
    plain = rest(f"http://{http}/v2/health/ready", None)
    expect(plain[0] == "error", f"plain HTTP to the TLS port was answered: {plain}")
    seen["plain_http"] = plain[1][:80]
    untrusting = rest(f"https://{http}/v2/health/ready", ssl.create_default_context())
    expect(untrusting[0] == "error" and "CERTIFICATE_VERIFY_FAILED" in untrusting[1], f"{untrusting}")
    seen["grpc"] = grpc_infer(grpc_address, certs)
    expect(seen["grpc"] == "OK", f"gRPC over TLS: {seen['grpc']}")
    seen["triton_p_survived"] = triton_infer(grpc_address, certs)
    same = np.float32(seen["triton_p_survived"]) == np.float32(seen["p_survived"])
    expect(same, f"gRPC and REST differ: {seen}")
    print(json.dumps(seen))


def mutual(http, grpc_address, certs):
    seen = {}
    url = f"https://{http}/v2/models/{MODEL}/infer"
    seen["rest_without"] = rest(url, context(certs), infer_body())
    expect(seen["rest_without"][0] == "error", f"REST without a client certificate: {seen['rest_without']}")
    seen["rest_rogue"] = rest(url, context(certs, "rogue"), infer_body())
    expect(seen["rest_rogue"][0] == "error", f"REST with another CA's certificate: {seen['rest_rogue']}")
    status, body = rest(url, context(certs, "client"), infer_body())
    expect(status == 200, f"REST with the client certificate: {status} {body}")
    seen["rest_client"] = status
    seen["grpc_without"] = grpc_infer(grpc_address, certs)
    expect(seen["grpc_without"] == "StatusCode.UNAVAILABLE", f"gRPC without a client certificate: {seen['grpc_without']}")
    seen["grpc_rogue"] = grpc_infer(grpc_address, certs, "rogue")
    expect(seen["grpc_rogue"] == "StatusCode.UNAVAILABLE", f"gRPC with another CA's certificate: {seen['grpc_rogue']}")
    seen["grpc_client"] = grpc_infer(grpc_address, certs, "client")
    expect(seen["grpc_client"] == "OK", f"gRPC with the client certificate: {seen['grpc_client']}")
    seen["triton_client"] = triton_infer(grpc_address, certs, "client")
    print(json.dumps(seen))


def main():
    command, http, grpc_address, certs = sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4])
    if command == "server":
        server(http, grpc_address, certs)
    elif command == "mutual":
        mutual(http, grpc_address, certs)
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
