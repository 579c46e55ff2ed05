"""A loopback OpenAI-compatible chat server that follows the received schema to the letter.

It stands in for a vLLM (or any OpenAI-compatible) server with schema-constrained
decoding: every reply to ``POST /v1/chat/completions`` is a JSON instance of the
``response_format.json_schema`` the request carried, and nothing narrower. So whatever
a provider drops from the schema on the way is lost here too:

* an integer takes a value from its ``enum`` when one was sent, else from
  ``minimum``..``maximum`` when those were sent, else from a wide range (-50..200);
* a number likewise (``minimum``..``maximum``, else -50..200);
* a string is a few consecutive words of the story (the user message's ``<story>``
  section), from its ``enum`` when one was sent;
* an array has ``minItems``..``maxItems`` items when those were sent; with no bounds
  (Inspect's ``JSONSchema`` has no array-size fields, so no provider sends them) it
  has one or two, the count every rubric's prompt asks for;
* an object has exactly its properties.

With ``behaviour`` set (a ``polaris_bench.providers.judge_behaviour.JudgeBehaviour``),
a rubric reply's criterion scores are instead the offline judge's (fair, or with its
known biases: ``prefer_first``, ``length_reward``, ``obey``, ``noise``), still within the
schema that was sent, so the judge audit can be checked over HTTP.

Every request body is recorded. The server listens on 127.0.0.1 on an ephemeral port in
a daemon thread, answers at most ``max_requests`` requests (then 503) and shuts itself
down after ``lifetime`` seconds if the test has not stopped it first.

It also speaks the minimal OpenAI Batch API that a batch client needs: ``POST /v1/files``
(a multipart upload, ``purpose=batch``), ``POST /v1/batches`` (runs every JSONL request
line of the input file through the same replies at once, so the batch is ``completed``
when created), ``GET /v1/batches/{id}`` and ``GET /v1/files/{id}/content`` (the output
JSONL). Every uploaded request line is kept in ``batch_lines`` and counted in
``requests`` as well, so the chat tests' checks apply to batched requests unchanged.
"""

from __future__ import annotations

import json
import random
import re
import threading
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WIDE = (-50, 200)
_STORY = re.compile(r"<story>\n?(.*?)\n?</story>", re.DOTALL)
MAX_BODY = 4_000_000


def instance(schema: dict[str, Any], rng: random.Random, words: list[str]) -> Any:
    """A value that validates against ``schema`` and uses no constraint it lacks."""
    if "enum" in schema:
        return rng.choice(schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = rng.choice(kind)
    if kind == "object":
        return {name: instance(sub, rng, words) for name, sub in (schema.get("properties") or {}).items()}
    if kind == "array":
        low = int(schema.get("minItems", 1 if "maxItems" not in schema else 0))
        high = int(schema.get("maxItems", max(low, 2)))
        return [instance(schema.get("items") or {}, rng, words) for _ in range(rng.randint(low, high))]
    if kind == "integer":
        return rng.randint(int(schema.get("minimum", WIDE[0])), int(schema.get("maximum", WIDE[1])))
    if kind == "number":
        return round(rng.uniform(float(schema.get("minimum", WIDE[0])), float(schema.get("maximum", WIDE[1]))), 2)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "string":
        if not words:
            return "text"
        n = rng.randint(3, 8)
        start = rng.randrange(max(1, len(words) - n))
        return " ".join(words[start : start + n])
    raise ValueError(f"loopback server: cannot follow schema {schema!r}")


def _user_text(body: dict[str, Any]) -> str:
    parts: list[str] = []
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(c.get("text", "") for c in content if isinstance(c, dict))
    return "\n".join(parts)


@dataclass
class LoopbackServer:
    max_requests: int = 500
    lifetime: float = 120.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    behaviour: Any = None  # JudgeBehaviour: score rubric criteria like offline/judge
    batch_lines: list[dict[str, Any]] = field(default_factory=list)  # uploaded batch request lines
    batches: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> LoopbackServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0].rstrip("/")
                if path.endswith("/v1/models"):
                    self._send(200, {"object": "list", "data": [{"id": "judge", "object": "model", "max_model_len": 32768}]})
                elif (m := re.search(r"/v1/batches/([^/]+)$", path)) and m.group(1) in owner.batches:
                    self._send(200, owner.batches[m.group(1)])
                elif (m := re.search(r"/v1/files/([^/]+)/content$", path)) and m.group(1) in owner.files:
                    data = owner.files[m.group(1)]
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                path = self.path.split("?", 1)[0].rstrip("/")
                if length > MAX_BODY:
                    self._send(413, {"error": {"message": "request too large"}})
                    return
                if path.endswith("/v1/files"):
                    self._send(200, owner.upload(self.headers.get("Content-Type", ""), self.rfile.read(length)))
                    return
                if path.endswith("/v1/batches"):
                    self._send(200, owner.run_batch(json.loads(self.rfile.read(length))))
                    return
                if not path.endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                body = json.loads(self.rfile.read(length))
                with owner._lock:
                    if len(owner.requests) >= owner.max_requests:
                        self._send(503, {"error": {"message": "loopback server: request limit reached"}})
                        return
                    owner.requests.append(body)
                    count = len(owner.requests)
                self._send(200, owner.reply(body, count))

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        self._timer = threading.Timer(self.lifetime, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def reply(self, body: dict[str, Any], count: int) -> dict[str, Any]:
        text = _user_text(body)
        match = _STORY.search(text)
        words = (match.group(1) if match else text).split()
        rng = random.Random(f"{body.get('seed')}|{count}")
        fmt = body.get("response_format") or {}
        schema = (fmt.get("json_schema") or {}).get("schema") if fmt.get("type") == "json_schema" else None
        reply = instance(schema, rng, words) if schema else None
        if self.behaviour is not None and isinstance(reply, dict):
            from polaris_bench.providers.judge_behaviour import (
                fill_scores,
                rubric_scores,
            )

            story = match.group(1) if match else text
            fill_scores(reply, schema, rubric_scores(text, story, schema, body.get("seed"), self.behaviour))
        content = json.dumps(reply) if schema else "No schema was sent."
        return {
            "id": f"chatcmpl-loop-{count}",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", "judge"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": len(text) // 4, "completion_tokens": len(content) // 4,
                      "total_tokens": len(text) // 4 + len(content) // 4},
        }

    # -- the Batch API ---------------------------------------------------------------

    def upload(self, content_type: str, data: bytes) -> dict[str, Any]:
        """``POST /v1/files``: keep the multipart form's ``file`` part."""
        form = BytesParser(policy=email_policy).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + data)
        parts = {p.get_param("name", header="content-disposition"): p for p in form.iter_parts()}
        payload = parts["file"].get_payload(decode=True)
        with self._lock:
            file_id = f"file-loop-{len(self.files) + 1}"
            self.files[file_id] = payload
        return {"id": file_id, "object": "file", "bytes": len(payload), "created_at": 0,
                "filename": parts["file"].get_filename() or "batch.jsonl", "purpose": "batch", "status": "processed"}

    def run_batch(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /v1/batches``: answer every request line now; the batch is complete."""
        lines = [json.loads(x) for x in self.files[body["input_file_id"]].decode().splitlines() if x.strip()]
        out = []
        for line in lines:
            with self._lock:
                self.batch_lines.append(line)
                self.requests.append(line["body"])
                count = len(self.requests)
            reply = self.reply(line["body"], count)
            out.append({"id": f"batch-req-{count}", "custom_id": line["custom_id"], "error": None,
                        "response": {"status_code": 200, "request_id": f"req-{count}", "body": reply}})
        with self._lock:
            output_id = f"file-loop-{len(self.files) + 1}"
            self.files[output_id] = "".join(json.dumps(o) + "\n" for o in out).encode()
            batch_id = f"batch-loop-{len(self.batches) + 1}"
            self.batches[batch_id] = {
                "id": batch_id, "object": "batch", "endpoint": body["endpoint"], "errors": None,
                "input_file_id": body["input_file_id"], "completion_window": body.get("completion_window", "24h"),
                "status": "completed", "output_file_id": output_id, "error_file_id": None, "created_at": 0,
                "request_counts": {"total": len(lines), "completed": len(lines), "failed": 0},
            }
        return self.batches[batch_id]

    def stop(self) -> None:
        if getattr(self, "_stopped", False):
            return
        self._stopped = True
        self._timer.cancel()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
