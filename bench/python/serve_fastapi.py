"""A small FastAPI server for an example's scikit-learn pipeline: the Python reference for the
load test (bench/load/load_test.sh), speaking the same Open Inference Protocol JSON as the
pipec server (docs/serving.md), so one request body works against both.

    python serve_fastapi.py --example titanic|chain [--port 8001] [--host 127.0.0.1]

One uvicorn worker, no request batching: each request runs predict_proba on its own rows,
inline in the async handler (so one at a time; a sync handler would only add thread hand-offs
under the GIL).
Endpoints: POST /v2/models/{name}[/versions/{v}]/infer (JSON only: inputs with name, shape,
datatype, data, nullable numbers as null; the optional `outputs` list selects outputs),
GET /v2/health/live, GET /v2/health/ready, GET /v2/models/{name}. BLAS threads are capped at
1 (threadpoolctl), as in bench_reference.py's default.
"""
import argparse
import json

import numpy as np
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from threadpoolctl import threadpool_limits

import pipelines

VERSION = "1.0.0"  # the .pipe files' `version`


def flatten(data):
    out = []
    for v in data:
        out.extend(flatten(v) if isinstance(v, list) else [v])
    return out


def make_app(name):
    fitted = pipelines.fit(name)
    columns, outputs = pipelines.COLUMNS[name], pipelines.OUTPUTS[name]
    app = FastAPI()

    def error(status, msg):
        return JSONResponse({"error": msg}, status_code=status)

    @app.get("/v2/health/live")
    async def live():
        return {"live": True}

    @app.get("/v2/health/ready")
    async def ready():
        return {"ready": True}

    @app.get("/v2/models/{model}")
    async def metadata(model: str):
        if model != name:
            return error(404, f"unknown model {model}")
        return {"name": name, "versions": [VERSION], "platform": "scikit-learn",
                "inputs": [{"name": c, "datatype": "FP32" if k == "f" else "BYTES", "shape": [-1]}
                           for c, k in columns.items()],
                "outputs": [{"name": o, "datatype": t, "shape": [-1]} for o, t in outputs.items()]}

    async def infer(request: Request, model: str):
        if model != name:
            return error(404, f"unknown model {model}")
        try:
            body = json.loads(await request.body())
            got = {i["name"]: flatten(i["data"]) for i in body["inputs"]}
            missing = set(columns) - set(got)
            if missing or len(got) != len(body["inputs"]):
                return error(400, f"missing, unknown or repeated inputs: {sorted(got)}")
            rows = {len(v) for v in got.values()}
            if len(rows) != 1 or 0 in rows:
                return error(400, "inputs disagree on the number of rows")
            frame = pipelines.frame(name, got)
            wanted = [o["name"] for o in body.get("outputs") or []] or list(outputs)
            if set(wanted) - set(outputs):
                return error(400, f"unknown output in {wanted}")
        except (ValueError, KeyError, TypeError) as e:
            return error(400, f"bad request: {e}")
        n = rows.pop()
        values = fitted.outputs(frame)
        answer = {"model_name": name, "model_version": VERSION}
        if "id" in body:
            answer["id"] = body["id"]
        answer["outputs"] = [
            {"name": o, "datatype": outputs[o], "shape": [n],
             "data": (values[o].astype(np.float32).tolist() if outputs[o] == "FP32"
                      else values[o].tolist())}
            for o in wanted]
        return Response(json.dumps(answer), media_type="application/json")

    app.post("/v2/models/{model}/infer")(infer)

    @app.post("/v2/models/{model}/versions/{version}/infer")
    async def infer_version(request: Request, model: str, version: str):
        if version != VERSION:
            return error(404, f"unknown version {version}")
        return await infer(request, model)

    return app


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--example", required=True, choices=sorted(pipelines.COLUMNS))
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8001)
    a = ap.parse_args()
    threadpool_limits(limits=1)
    app = make_app(a.example)
    uvicorn.run(app, host=a.host, port=a.port, workers=1, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
