"""Drives a pipec server's Open Inference Protocol gRPC endpoint with real clients: NVIDIA's
Triton gRPC client (tritonclient.grpc) and the KServe SDK's InferenceGRPCClient, comparing
what they get with the server's REST answers (plain urllib) for the same rows.

Usage:
  grpc_clients.py check GRPC_ADDRESS HTTP_ADDRESS REFERENCE_JSON [--alias NAME]
      Health and metadata; the reference rows through both clients, with raw_input_contents
      (Triton, KServe) and with typed contents (KServe), checked bit for bit against the REST
      answer and against the scikit-learn reference (1e-5); errors (unknown model or
      version: NOT_FOUND; malformed requests: INVALID_ARGUMENT, with the REST message;
      unimplemented RPCs: UNIMPLEMENTED); with --alias, the same through the alias.
  grpc_clients.py full GRPC_ADDRESS HTTP_ADDRESS REFERENCE_JSON
      Against a server with --queue-capacity 1 --max-batch-rows 1: while a large request is
      being scored, small ones are answered RESOURCE_EXHAUSTED at once.
  grpc_clients.py oversized GRPC_ADDRESS HTTP_ADDRESS REFERENCE_JSON
      Against a server with --max-body-bytes 65536: a 20,000-row request is answered
      RESOURCE_EXHAUSTED, naming the limit, and a one-row request still scores.
  grpc_clients.py inflight GRPC_ADDRESS HTTP_ADDRESS REFERENCE_JSON ROWS
      Sends one request of ROWS rows, prints `scoring` once the server scores it, then the
      outcome as a JSON line (the caller sends SIGTERM in between).

  grpc_clients.py auth GRPC_ADDRESS HTTP_ADDRESS REFERENCE_JSON TOKEN GROUP_TOKEN
      Against a server with --auth-token-file: health RPCs answer without a token;
      ModelInfer and ModelMetadata without one, or with an unknown one, are UNAUTHENTICATED;
      GROUP_TOKEN (which does not grant inference) is PERMISSION_DENIED; TOKEN scores, through
      the raw stub and through the Triton client's `headers`.

Prints one JSON line with what it saw; exits non-zero on any mismatch.
"""

import asyncio
import json
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import grpc
import numpy as np

# tritonclient and kserve each register the messages of `inference.*` in protobuf's default
# descriptor pool, so one process can import only one of them: the KServe checks run in a
# child process (`kserve` command).
if sys.argv[1:2] != ["kserve"]:
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import InferenceServerException

TOLERANCE = 1e-5
MODEL = "titanic"
STRINGS = ("sex", "pclass")


def datatype(name):
    return "BYTES" if name in STRINGS else "FP32"


def column(reference, name, rows):
    values = reference["inputs"][name][rows]
    if name in STRINGS:
        return np.array([v.encode() for v in values], dtype=np.object_)
    return np.array([np.nan if v is None else v for v in values], dtype=np.float32)


def bytes_element(text):
    data = text.encode()
    return struct.pack("<I", len(data)) + data


# --- REST, with every output as binary data ---------------------------------------------

def rest_infer(http, model, inputs, outputs=None, request_id=None):
    """POSTs {name: list} as JSON inputs; returns (status, head or error, {output: bytes})."""
    body = {
        "inputs": [
            {"name": name, "shape": [len(values)], "datatype": datatype(name), "data": values}
            for name, values in inputs.items()
        ],
        "parameters": {"binary_data_output": True},
    }
    if outputs is not None:
        body["outputs"] = [{"name": name} for name in outputs]
    if request_id is not None:
        body["id"] = request_id
    return rest_post(http, model, json.dumps(body).encode())


def rest_post(http, model, body):
    request = urllib.request.Request(
        f"http://{http}/v2/models/{model}/infer", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            data = response.read()
            length = int(response.headers.get("Inference-Header-Content-Length", len(data)))
            status = response.status
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())["error"], {}
    head = json.loads(data[:length])
    at, raw = length, {}
    for output in head["outputs"]:
        size = output["parameters"]["binary_data_size"]
        raw[output["name"]] = data[at : at + size]
        at += size
    return status, head, raw


def rest_scored_rows(http):
    with urllib.request.urlopen(f"http://{http}/metrics", timeout=30) as response:
        for line in response.read().decode().splitlines():
            if line.startswith("pipec_scored_rows_total"):
                return float(line.split()[-1])
    return 0.0


def reference_inputs(reference, rows):
    return {name: reference["inputs"][name][rows] for name in ("age", "sibsp", "parch", "sex", "pclass")}


# --- checks -----------------------------------------------------------------------------

def expect(condition, message):
    if not condition:
        raise AssertionError(message)


def same_bits(label, got, want):
    expect(got == want, f"{label}: the gRPC bytes differ from REST's ({len(got)} vs {len(want)} bytes)")


def check_against_reference(label, p_bytes, survived_bytes, reference, rows):
    p = np.frombuffer(p_bytes, dtype="<f4").astype(np.float64)
    expected = np.array(reference["outputs"]["p_survived"][rows], dtype=np.float64)
    expect(p.shape == expected.shape, f"{label}: {p.shape} rows, expected {expected.shape}")
    error = float(np.max(np.abs(p - expected)))
    expect(error <= TOLERANCE, f"{label}: p_survived differs from scikit-learn by {error}")
    survived = np.frombuffer(survived_bytes, dtype=np.uint8)
    expect(set(survived.tolist()) <= {0, 1}, f"{label}: BOOL bytes other than 0 and 1")
    clear = np.abs(expected - 0.5) > TOLERANCE
    expect(np.array_equal(survived[clear] == 1, (expected > 0.5)[clear]), f"{label}: survived differs")
    return error


def triton_status(call):
    try:
        call()
    except InferenceServerException as e:
        return e.status(), e.message()
    raise AssertionError("the call succeeded; an error was expected")


def triton_inputs(reference, rows, names=("age", "sibsp", "parch", "sex", "pclass")):
    tensors = []
    for name in names:
        array = column(reference, name, rows)
        tensor = grpcclient.InferInput(name, list(array.shape), datatype(name))
        tensor.set_data_from_numpy(array)
        tensors.append(tensor)
    return tensors


def check_triton(grpc_address, http, reference, model, seen):
    client = grpcclient.InferenceServerClient(url=grpc_address)
    expect(client.is_server_live(), "not live")
    expect(client.is_server_ready(), "not ready")
    expect(client.is_model_ready(model), "model not ready")
    server = client.get_server_metadata(as_json=True)
    expect(server["name"] == "pipec", f"server metadata: {server}")
    metadata = client.get_model_metadata(model, as_json=True)
    expect(metadata["name"] == model, f"model metadata names {metadata['name']}")
    datatypes = {i["name"]: i["datatype"] for i in metadata["inputs"]}
    expect(datatypes == {n: datatype(n) for n in datatypes} and len(datatypes) == 5, f"inputs {datatypes}")
    expect([o["name"] for o in metadata["outputs"]] == ["p_survived", "survived"], f"outputs {metadata['outputs']}")

    rows = slice(0, reference["rows"])
    outputs = [grpcclient.InferRequestedOutput("p_survived"), grpcclient.InferRequestedOutput("survived")]
    result = client.infer(model, triton_inputs(reference, rows), outputs=outputs, request_id="triton-grpc")
    response = result.get_response()
    expect(response.id == "triton-grpc", f"id {response.id!r}")
    expect(response.model_name == model, f"model_name {response.model_name!r}")
    parameters = {k: v.WhichOneof("parameter_choice") for k, v in response.parameters.items()}
    expect(parameters.get("pipeline") == "string_param" and response.parameters["model"].string_param == "champion",
           f"parameters {parameters}")
    raw = dict(zip([o.name for o in response.outputs], response.raw_output_contents))
    expect([o.datatype for o in response.outputs] == ["FP32", "BOOL"], f"datatypes {response.outputs}")
    status, head, rest = rest_infer(http, model, reference_inputs(reference, rows), request_id="triton-grpc")
    expect(status == 200, f"REST answered {status}: {head}")
    same_bits("triton raw p_survived", raw["p_survived"], rest["p_survived"])
    same_bits("triton raw survived", raw["survived"], rest["survived"])
    expect(np.array_equal(result.as_numpy("p_survived").view(np.uint32),
                          np.frombuffer(rest["p_survived"], dtype="<f4").view(np.uint32)), "as_numpy bits")
    seen["triton_max_abs_error"] = check_against_reference("triton", raw["p_survived"], raw["survived"], reference, rows)
    seen["rows"] = int(result.as_numpy("p_survived").shape[0])

    # Without `outputs`: every output, in the metadata's order.
    result = client.infer(model, triton_inputs(reference, slice(3, 5)))
    expect([o.name for o in result.get_response().outputs] == ["p_survived", "survived"], "default outputs")

    # Errors: the REST message, as a gRPC status.
    code, message = triton_status(lambda: client.infer("nope", triton_inputs(reference, slice(0, 1))))
    _, rest_message, _ = rest_infer(http, "nope", reference_inputs(reference, slice(0, 1)))
    expect(code == "StatusCode.NOT_FOUND" and message == rest_message, f"unknown model: {code} {message!r} / {rest_message!r}")
    code, message = triton_status(lambda: client.infer(model, triton_inputs(reference, slice(0, 1)), model_version="9"))
    expect(code == "StatusCode.NOT_FOUND" and "has no version `9`" in message, f"unknown version: {code} {message}")
    code, _ = triton_status(lambda: client.get_model_metadata("nope"))
    expect(code == "StatusCode.NOT_FOUND", f"metadata of an unknown model: {code}")
    code, _ = triton_status(lambda: client.is_model_ready("nope"))
    expect(code == "StatusCode.NOT_FOUND", f"readiness of an unknown model: {code}")

    bad = triton_inputs(reference, slice(0, 2), names=("age", "sibsp", "parch", "sex"))
    extra = grpcclient.InferInput("deck", [2], "FP32")
    extra.set_data_from_numpy(np.zeros(2, dtype=np.float32))
    code, message = triton_status(lambda: client.infer(model, bad + [extra]))
    inputs = reference_inputs(reference, slice(0, 2))
    del inputs["pclass"]
    inputs["deck"] = [0.0, 0.0]
    _, rest_message, _ = rest_infer(http, model, inputs)
    expect(code == "StatusCode.INVALID_ARGUMENT" and message == rest_message,
           f"unknown input: {code} {message!r} / {rest_message!r}")
    code, message = triton_status(lambda: client.infer(model, bad))
    expect(code == "StatusCode.INVALID_ARGUMENT" and "input `pclass` is missing" in message, f"missing input: {code} {message}")

    # Raw BYTES that end inside a length prefix.
    request = raw_request(model, reference, 1)
    request.raw_input_contents[3] = b"\x05\x00"
    try:
        stub(grpc_address).ModelInfer(request)
        raise AssertionError("a broken BYTES tensor was accepted")
    except grpc.RpcError as e:
        expect(e.code() == grpc.StatusCode.INVALID_ARGUMENT and "input `sex`: row 0:" in e.details(),
               f"broken BYTES: {e.code()} {e.details()}")

    code, _ = triton_status(lambda: client.get_inference_statistics(model))
    expect(code == "StatusCode.UNIMPLEMENTED", f"statistics: {code}")
    code, _ = triton_status(lambda: client.load_model(model))
    expect(code == "StatusCode.UNIMPLEMENTED", f"load_model: {code}")
    client.close()


async def check_kserve(grpc_address, http, reference, model, seen):
    from kserve import InferenceGRPCClient, InferInput, InferRequest

    rows = slice(0, reference["rows"])
    status, _, rest = rest_infer(http, model, reference_inputs(reference, rows))
    expect(status == 200, f"REST answered {status}")
    client = InferenceGRPCClient(url=grpc_address, timeout=120, channel_args=[("grpc.enable_retries", 0)])
    try:
        expect(await client.is_server_live(), "kserve: not live")
        expect(await client.is_server_ready(), "kserve: not ready")
        expect(await client.is_model_ready(model), "kserve: model not ready")
        for binary in (True, False):
            inputs = []
            for name in ("age", "sibsp", "parch", "sex", "pclass"):
                array = column(reference, name, rows)
                if binary:
                    tensor = InferInput(name, list(array.shape), datatype(name))
                    tensor.set_data_from_numpy(array, binary_data=True)
                else:
                    # Typed contents: fp32_contents (NaN for a missing age), bytes_contents.
                    values = [v.decode() for v in array] if name in STRINGS else [float(v) for v in array]
                    tensor = InferInput(name, list(array.shape), datatype(name), data=values)
                inputs.append(tensor)
            request = InferRequest(model_name=model, infer_inputs=inputs, request_id=f"kserve-{binary}")
            grpc_request = request.to_grpc()
            expect(bool(grpc_request.raw_input_contents) == binary, "kserve sent another representation than asked")
            if not binary:
                expect(len(grpc_request.inputs[0].contents.fp32_contents) == reference["rows"], "no fp32_contents")
                expect(len(grpc_request.inputs[3].contents.bytes_contents) == reference["rows"], "no bytes_contents")
            response = await client.infer(request)
            expect(response.id == f"kserve-{binary}", f"kserve id {response.id}")
            outputs = {o.name: o for o in response.outputs}
            p = outputs["p_survived"].as_numpy()
            survived = outputs["survived"].as_numpy()
            label = "kserve raw" if binary else "kserve typed"
            same_bits(f"{label} p_survived", p.astype("<f4").tobytes(), rest["p_survived"])
            same_bits(f"{label} survived", survived.astype(np.uint8).tobytes(), rest["survived"])
            error = check_against_reference(label, p.astype("<f4").tobytes(), survived.astype(np.uint8).tobytes(), reference, rows)
            seen["kserve_raw_max_abs_error" if binary else "kserve_typed_max_abs_error"] = error
        # A datatype the input does not take, through typed contents.
        request = InferRequest(
            model_name=model,
            infer_inputs=[InferInput("age", [1], "BOOL", data=[True])],
        )
        try:
            await client.infer(request)
            raise AssertionError("kserve: a BOOL age was accepted")
        except grpc.RpcError as e:
            expect(e.code() == grpc.StatusCode.INVALID_ARGUMENT and "datatype BOOL does not fit" in e.details(),
                   f"kserve: {e.code()} {e.details()}")
    finally:
        await client.close()


def check(grpc_address, http, reference, alias):
    seen = {}
    check_triton(grpc_address, http, reference, MODEL, seen)
    kserve = subprocess.run(
        [sys.executable, __file__, "kserve", grpc_address, http, sys.argv[4]], capture_output=True, text=True
    )
    expect(kserve.returncode == 0, f"the KServe client failed:\n{kserve.stdout}\n{kserve.stderr}")
    seen.update(json.loads(kserve.stdout))
    if alias:
        alias_seen = {}
        check_triton(grpc_address, http, reference, alias, alias_seen)
        client = grpcclient.InferenceServerClient(url=grpc_address)
        result = client.infer(alias, triton_inputs(reference, slice(0, 1)))
        expect(result.get_response().model_name == alias, "the answer does not repeat the alias")
        code, message = triton_status(lambda: client.infer("nope", triton_inputs(reference, slice(0, 1))))
        expect(code == "StatusCode.NOT_FOUND" and f"(also as `{alias}`)" in message, f"{code} {message}")
        seen["alias"] = alias
    print(json.dumps(seen))


def raw_request(model, reference, rows, outputs=()):
    """A ModelInferRequest of `rows` copies of reference row 1, as raw contents."""
    request = grpcclient.service_pb2.ModelInferRequest(model_name=model)
    for name in ("age", "sibsp", "parch", "sex", "pclass"):
        value = reference["inputs"][name][1]
        tensor = request.inputs.add(name=name, datatype=datatype(name))
        tensor.shape.append(rows)
        request.raw_input_contents.append(
            bytes_element(value) * rows if name in STRINGS else struct.pack("<f", value) * rows
        )
    for name in outputs:
        request.outputs.add(name=name)
    return request


def stub(grpc_address):
    options = [("grpc.max_send_message_length", 1 << 30), ("grpc.max_receive_message_length", 1 << 30)]
    channel = grpc.insecure_channel(grpc_address, options=options)
    return grpcclient.service_pb2_grpc.GRPCInferenceServiceStub(channel)


def wait_until_scoring(http, rows):
    deadline = time.monotonic() + 120
    while rest_scored_rows(http) < rows:
        expect(time.monotonic() < deadline, "the big request never started")
        time.sleep(0.005)


def full(grpc_address, http, reference):
    rows = 2_000_000
    before = rest_scored_rows(http)
    big = raw_request(MODEL, reference, rows, outputs=["survived"])
    outcome = {}

    def busy():
        try:
            response = stub(grpc_address).ModelInfer(big, timeout=300)
            outcome["big"] = ("OK", len(response.raw_output_contents[0]))
        except grpc.RpcError as e:
            outcome["big"] = (str(e.code()), e.details())

    thread = threading.Thread(target=busy)
    thread.start()
    wait_until_scoring(http, before + rows)
    small = raw_request(MODEL, reference, 1)
    answers = []

    def one():
        started = time.monotonic()
        try:
            stub(grpc_address).ModelInfer(small, timeout=60)
            answers.append(("OK", time.monotonic() - started, ""))
        except grpc.RpcError as e:
            answers.append((str(e.code()), time.monotonic() - started, e.details()))

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    thread.join()
    expect(outcome["big"] == ("OK", rows), f"the big request: {outcome['big']}")
    rejected = [a for a in answers if a[0] == "StatusCode.RESOURCE_EXHAUSTED"]
    expect(rejected, f"no RESOURCE_EXHAUSTED while the queue was full: {answers}")
    for _, took, message in rejected:
        expect("at capacity" in message, message)
        expect(took < 2, f"a rejection took {took} s")
    expect(all(a[0] in ("OK", "StatusCode.RESOURCE_EXHAUSTED") for a in answers), f"{answers}")
    print(json.dumps({"rejected": len(rejected), "answered": len(answers) - len(rejected)}))


def oversized(grpc_address, reference):
    try:
        stub(grpc_address).ModelInfer(raw_request(MODEL, reference, 20_000), timeout=60)
        outcome = ("OK", "")
    except grpc.RpcError as e:
        outcome = (str(e.code()), e.details())
    expect(outcome[0] == "StatusCode.RESOURCE_EXHAUSTED", f"an oversized request: {outcome}")
    expect("65536" in outcome[1], f"the message does not name the limit: {outcome[1]}")
    small = stub(grpc_address).ModelInfer(raw_request(MODEL, reference, 1), timeout=60)
    expect(len(small.raw_output_contents) > 0, "a small request after it got no outputs")
    print(json.dumps({"status": outcome[0], "message": outcome[1]}))


def auth(grpc_address, reference, token, group_token):
    service = stub(grpc_address)

    def status(call, bearer=None):
        metadata = [("authorization", f"Bearer {bearer}")] if bearer is not None else None
        try:
            call(metadata)
            return ("OK", "")
        except grpc.RpcError as e:
            return (str(e.code()), e.details())

    infer = lambda md: service.ModelInfer(raw_request(MODEL, reference, 1), timeout=60, metadata=md)
    metadata_call = lambda md: service.ModelMetadata(
        grpcclient.service_pb2.ModelMetadataRequest(name=MODEL), timeout=60, metadata=md)
    seen = {
        "live": status(lambda md: service.ServerLive(grpcclient.service_pb2.ServerLiveRequest(), metadata=md)),
        "ready": status(lambda md: service.ModelReady(grpcclient.service_pb2.ModelReadyRequest(name=MODEL), metadata=md)),
        "infer_without": status(infer),
        "infer_unknown": status(infer, "not-a-token"),
        "infer_group_token": status(infer, group_token),
        "infer_token": status(infer, token),
        "metadata_without": status(metadata_call),
        "metadata_token": status(metadata_call, token),
    }
    expect(seen["live"][0] == "OK" and seen["ready"][0] == "OK", f"health needs no token: {seen}")
    for key in ("infer_without", "infer_unknown", "metadata_without"):
        expect(seen[key][0] == "StatusCode.UNAUTHENTICATED", f"{key}: {seen[key]}")
    expect("Bearer" in seen["infer_without"][1], f"the message does not say how: {seen['infer_without']}")
    expect(seen["infer_group_token"][0] == "StatusCode.PERMISSION_DENIED", f"{seen['infer_group_token']}")
    expect(seen["infer_token"][0] == "OK" and seen["metadata_token"][0] == "OK", f"{seen}")
    client = grpcclient.InferenceServerClient(url=grpc_address)
    result = client.infer(MODEL, triton_inputs(reference, slice(0, 3)), headers={"authorization": f"Bearer {token}"})
    expect(result.as_numpy("p_survived").shape[0] == 3, "the Triton client with a token got no rows")
    code, _ = triton_status(lambda: client.infer(MODEL, triton_inputs(reference, slice(0, 1))))
    expect(code == "StatusCode.UNAUTHENTICATED", f"the Triton client without a token: {code}")
    print(json.dumps(seen))


def inflight(grpc_address, http, reference, rows):
    before = rest_scored_rows(http)
    big = raw_request(MODEL, reference, rows, outputs=["survived"])
    outcome = {}

    def call():
        try:
            response = stub(grpc_address).ModelInfer(big, timeout=300)
            outcome["status"] = "OK"
            outcome["rows"] = len(response.raw_output_contents[0])
        except grpc.RpcError as e:
            outcome["status"] = str(e.code())
            outcome["message"] = e.details()

    thread = threading.Thread(target=call)
    thread.start()
    wait_until_scoring(http, before + rows)
    print("scoring", flush=True)
    thread.join()
    print(json.dumps(outcome), flush=True)


def main():
    command, grpc_address, http, reference_path = sys.argv[1:5]
    with open(reference_path) as f:
        reference = json.load(f)
    if command == "check":
        alias = sys.argv[6] if len(sys.argv) > 6 and sys.argv[5] == "--alias" else None
        check(grpc_address, http, reference, alias)
    elif command == "kserve":
        seen = {}
        asyncio.run(check_kserve(grpc_address, http, reference, MODEL, seen))
        print(json.dumps(seen))
    elif command == "full":
        full(grpc_address, http, reference)
    elif command == "oversized":
        oversized(grpc_address, reference)
    elif command == "auth":
        auth(grpc_address, reference, sys.argv[5], sys.argv[6])
    elif command == "inflight":
        inflight(grpc_address, http, reference, int(sys.argv[5]))
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
