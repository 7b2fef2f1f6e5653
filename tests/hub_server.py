"""Run as a script: a Hugging Face Hub stand-in on localhost serving one open_clip model, then
`load_model("hf-hub:…")` downloading it through huggingface_hub, with progress and cancel.

argv: CACHE WEIGHTS MODEL_CFG_JSON MODE. MODE "load": print one JSON line {events, files};
MODE "cancel": cancel at the first progress report and print {"cancelled": true}. HF_ENDPOINT
must be set before huggingface_hub is imported, hence a separate process.
"""

import hashlib
import json
import os
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO, COMMIT = "test-org/served-clip", "89abcdef0123456789abcdef0123456789abcdef"


def serve(files: dict[str, bytes]) -> str:
    """Serve `files` as /REPO/resolve/main/NAME (HEAD and GET, as the Hub answers); return the URL."""

    class Hub(BaseHTTPRequestHandler):
        def _answer(self, body: bool):
            name = self.path.split("?")[0].removeprefix(f"/{REPO}/resolve/main/")
            data = files.get(name)
            if data is None:
                self.send_response(404)
                self.send_header("X-Error-Code", "EntryNotFound")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("ETag", '"' + hashlib.sha256(data).hexdigest() + '"')
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body:
                self.wfile.write(data)

        def do_HEAD(self):
            self._answer(False)

        def do_GET(self):
            self._answer(True)

        def log_message(self, *args):
            pass

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadingHTTPServer(("127.0.0.1", port), Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{port}"


if __name__ == "__main__":
    cache, weights, model_cfg, mode = sys.argv[1:5]
    files = {"open_clip_config.json": json.dumps({"model_cfg": json.loads(model_cfg), "preprocess_cfg": {}}).encode(),
             "open_clip_model.safetensors": Path(weights).read_bytes()}
    os.environ.update(HF_ENDPOINT=serve(files), HF_HUB_CACHE=cache, HF_HUB_OFFLINE="0")
    from core.errors import Cancelled
    from core.model.loading import ModelSpec, load_model

    events = []
    if mode == "cancel":
        try:
            load_model(ModelSpec(f"hf-hub:{REPO}"), progress=lambda d, t: events.append((d, t)),
                       cancel=lambda: bool(events))
        except Cancelled:
            print(json.dumps({"cancelled": True, "events": events}))
        sys.exit(0)
    load_model(ModelSpec(f"hf-hub:{REPO}"), progress=lambda d, t: events.append((d, t)))
    snapshot = Path(cache) / f"models--{REPO.replace('/', '--')}" / "snapshots" / COMMIT
    print(json.dumps({"events": events, "files": sorted(p.name for p in snapshot.iterdir())}))
