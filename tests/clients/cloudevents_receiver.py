"""A CloudEvents receiver for the payload events test (cli/tests/payload_events.rs).

Listens on 127.0.0.1, parses every POST with the CloudEvents Python SDK (`cloudevents`,
binary or structured mode, validated as the SDK validates a v1.0 event), and appends one JSON
line per event to a file: its attributes, its body as text, and its data as the SDK read it.
A request the SDK cannot parse is answered 400 and written as {"error": ...}.

usage: cloudevents_receiver.py OUT.jsonl [PORT]

Prints `listening PORT` on the first line of stdout once it accepts connections.
"""

import json
import sys
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cloudevents.core.bindings.http import HTTPMessage, from_http
from cloudevents.core.formats.json import JSONFormat

OUT = open(sys.argv[1], "a", encoding="utf-8")
LOCK = threading.Lock()
FORMAT = JSONFormat()


def write(record):
    line = json.dumps(record)
    with LOCK:
        OUT.write(line + "\n")
        OUT.flush()


def plain(value):
    return value.isoformat() if isinstance(value, datetime) else value


class Receiver(BaseHTTPRequestHandler):
    # Keep-alive, as an event sender reuses its connections.
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            event = from_http(HTTPMessage(headers=headers, body=body), FORMAT)
        except Exception as error:  # noqa: BLE001 - any parse failure is the test's finding
            write({"error": f"{type(error).__name__}: {error}", "headers": headers})
            self.answer(400)
            return
        attributes = {name: plain(value) for name, value in event.get_attributes().items()}
        data = event.get_data()
        if isinstance(data, bytes):
            data = None
        write(
            {
                "attributes": attributes,
                "body": body.decode("utf-8", errors="replace"),
                "data": data,
            }
        )
        self.answer(200)

    def answer(self, status):
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


def main():
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    server = ThreadingHTTPServer(("127.0.0.1", port), Receiver)
    server.daemon_threads = True
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
