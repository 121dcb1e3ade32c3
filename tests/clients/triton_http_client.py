"""Scores an example's reference rows through a pipec server with NVIDIA's Triton HTTP client.

Usage: triton_http_client.py HOST:PORT REFERENCE_JSON

The client speaks the Open Inference Protocol with the binary tensor data extension, as it
does against Triton itself. Prints one JSON line with what it saw; exits non-zero on any
mismatch with the scikit-learn reference (tolerance 1e-5).
"""

import json
import sys

import numpy as np
import tritonclient.http as httpclient

TOLERANCE = 1e-5


def main() -> None:
    url, reference_path = sys.argv[1], sys.argv[2]
    with open(reference_path) as f:
        reference = json.load(f)
    client = httpclient.InferenceServerClient(url=url)
    assert client.is_server_live(), "not live"
    assert client.is_server_ready(), "not ready"
    assert client.is_model_ready("titanic"), "model not ready"
    metadata = client.get_model_metadata("titanic")
    datatypes = {i["name"]: i["datatype"] for i in metadata["inputs"]}

    inputs = []
    for name, datatype in datatypes.items():
        values = reference["inputs"][name]
        if datatype == "BYTES":
            array = np.array([v.encode() for v in values], dtype=np.object_)
        else:
            # A missing value travels as NaN in binary data.
            array = np.array([np.nan if v is None else v for v in values], dtype=np.float32)
        tensor = httpclient.InferInput(name, list(array.shape), datatype)
        tensor.set_data_from_numpy(array, binary_data=True)
        inputs.append(tensor)
    outputs = [
        httpclient.InferRequestedOutput("p_survived", binary_data=True),
        httpclient.InferRequestedOutput("survived", binary_data=False),
    ]
    result = client.infer("titanic", inputs, outputs=outputs, request_id="triton-client")
    p = result.as_numpy("p_survived").astype(np.float64)
    survived = result.as_numpy("survived")
    expected = np.array(reference["outputs"]["p_survived"], dtype=np.float64)
    error = float(np.max(np.abs(p - expected)))
    assert p.shape == expected.shape, (p.shape, expected.shape)
    assert error <= TOLERANCE, f"p_survived differs from scikit-learn by {error}"
    clear = np.abs(expected - 0.5) > TOLERANCE
    assert np.array_equal(survived[clear], (expected > 0.5)[clear]), "survived differs"
    assert result.get_response()["id"] == "triton-client"
    print(json.dumps({"rows": int(p.shape[0]), "max_abs_error": error, "inputs": sorted(datatypes)}))


if __name__ == "__main__":
    main()
