"""The fake endpoint's `/v1/files` and `/v1/batches`: OpenAI's Batch API, answered by the same fake chat.

Upload (multipart, purpose "batch"), create, retrieve, list and `GET /v1/files/{id}/content` behave as OpenAI's
do, in the same JSON shapes, so the real `openai` SDK drives them. A batch's lines are answered at creation
with `FakeOpenAI.chat` (faults included: a 500 or a dropped connection becomes an error-file line, a content
fault an answer that zqvl's checks reject) and the outcome shows once the batch has "ended". Knobs, per server:

    srv.batches.polls_before_done = 2   # the first two retrieves say "in_progress"
    srv.batches.expire_after = 3        # only 3 lines answered; the rest "batch_expired", status "expired"
    srv.batches.fail_validation = True  # status "failed", no output at all (a rejected input file)
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    """One HTTP answer: a JSON body, raw bytes (a broken body), or a dropped connection; after `sleep` s."""

    status: int
    body: dict | None = None
    headers: dict | None = None
    raw: bytes | None = None
    drop: bool = False
    sleep: float = 0.0


def _multipart_file(headers, raw: bytes) -> tuple[bytes, str]:
    """The uploaded file's bytes and its `purpose` field, from a multipart/form-data body."""
    head = f"Content-Type: {headers.get('Content-Type')}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    data, purpose = b"", ""
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name == "file":
            data = part.get_payload(decode=True)
        elif name == "purpose":
            purpose = part.get_payload(decode=True).decode()
    return data, purpose


class FakeBatches:
    def __init__(self, fake):
        self.fake = fake
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict] = {}
        self.polls_before_done = 0
        self.expire_after: int | None = None
        self.fail_validation = False
        self.uploads = 0
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def _error(self, status: int, message: str) -> Reply:
        return Reply(status, {"error": {"message": message, "type": "invalid_request_error"}})

    def _ok(self, body: dict | None = None, raw: bytes | None = None) -> Reply:
        return Reply(200, body, raw=raw)

    def _new_file(self, data: bytes, name: str) -> dict:
        file_id = f"file-{next(self._ids)}"
        self.files[file_id] = data
        return {
            "id": file_id,
            "object": "file",
            "bytes": len(data),
            "created_at": int(time.time()),
            "filename": name,
            "purpose": "batch",
            "status": "processed",
        }

    # -- routes ---------------------------------------------------------------------------------------------
    def _refused(self, headers) -> Reply | None:
        auth = headers.get("Authorization", "")
        if self.fake.api_key is not None and auth != f"Bearer {self.fake.api_key}":
            return self._error(401, f"Incorrect API key provided: {auth[7:]}")  # echoed, as careless servers do
        return None

    def post(self, path: str, headers, raw: bytes) -> Reply:
        if refused := self._refused(headers):
            return refused
        path = path.rstrip("/")
        if path == "/v1/files":
            data, purpose = _multipart_file(headers, raw)
            if purpose != "batch" or not data:
                return self._error(400, "expected a non-empty file with purpose 'batch'")
            with self._lock:
                self.uploads += 1
                return self._ok(self._new_file(data, "input.jsonl"))
        if path == "/v1/batches":
            req = json.loads(raw)
            if req.get("input_file_id") not in self.files:
                return self._error(404, f"no file {req.get('input_file_id')}")
            with self._lock:
                return self._ok(self._create(req, headers.get("Authorization", "")))
        return self._error(404, f"no route {path}")

    def get(self, path: str, headers) -> Reply:
        if refused := self._refused(headers):
            return refused
        parts = urlsplit(path)
        route = parts.path.rstrip("/")
        if route == "/v1/batches":
            limit = int(parse_qs(parts.query).get("limit", ["20"])[0])
            data = [self._view(b) for b in reversed(list(self.batches.values()))][:limit]
            return self._ok({"object": "list", "data": data, "has_more": False})
        if route.startswith("/v1/batches/"):
            batch = self.batches.get(route.rsplit("/", 1)[1])
            return self._ok(self._poll(batch)) if batch else self._error(404, "no such batch")
        if route.startswith("/v1/files/") and route.endswith("/content"):
            data = self.files.get(route.split("/")[3])
            return self._ok(raw=data) if data is not None else self._error(404, "no such file")
        return self._error(404, f"no route {route}")

    # -- batches --------------------------------------------------------------------------------------------
    def _create(self, req: dict, auth: str) -> dict:
        batch_id = f"batch_{next(self._ids)}"
        lines = [json.loads(line) for line in self.files[req["input_file_id"]].splitlines() if line.strip()]
        batch = {
            "id": batch_id,
            "object": "batch",
            "endpoint": req.get("endpoint"),
            "input_file_id": req["input_file_id"],
            "completion_window": req.get("completion_window"),
            "created_at": int(time.time()),
            "metadata": req.get("metadata") or {},
            "polls": self.polls_before_done,
            "total": len(lines),
        }
        if self.fail_validation:
            batch["final"] = "failed"
            batch["errors"] = {"object": "list", "data": [{"code": "invalid_request", "message": "line 1: bad"}]}
        else:
            self._run(batch, lines, auth)
        self.batches[batch_id] = batch
        return self._view(batch)

    def _run(self, batch: dict, lines: list[dict], auth: str) -> None:
        out, errors = [], []
        for n, line in enumerate(lines):
            entry = {"id": f"batch_req_{n}", "custom_id": line["custom_id"]}
            if self.expire_after is not None and n >= self.expire_after:
                errors.append({**entry, "response": None, "error": {"code": "batch_expired", "message": "expired"}})
                continue
            reply = self.fake.chat(line["body"], auth, batch=True)
            if reply.status == 200 and reply.body is not None:
                out.append({**entry, "response": {"status_code": 200, "body": reply.body}, "error": None})
            else:  # a server error, a dropped connection or a broken body: the line failed
                status = reply.status if reply.status >= 400 else 500
                body = reply.body or {"error": {"message": "internal error"}}
                errors.append({**entry, "response": {"status_code": status, "body": body}, "error": None})
        batch["final"] = "expired" if self.expire_after is not None and len(lines) > self.expire_after else "completed"
        batch["completed"], batch["failed"] = len(out), len(errors)
        for kind, rows in (("output_file_id", out), ("error_file_id", errors)):
            if rows:
                data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
                batch[kind] = self._new_file(data, f"{batch['id']}_{kind}.jsonl")["id"]

    def _poll(self, batch: dict) -> dict:
        with self._lock:
            if batch["polls"] > 0:
                batch["polls"] -= 1
                return self._view(batch, running=True)
        return self._view(batch)

    def _view(self, batch: dict, running: bool | None = None) -> dict:
        running = batch["polls"] > 0 if running is None else running
        ended = not running
        counts = {"total": batch["total"], "completed": 0, "failed": 0}
        if ended:
            counts.update(completed=batch.get("completed", 0), failed=batch.get("failed", 0))
        return {
            "id": batch["id"],
            "object": "batch",
            "endpoint": batch["endpoint"],
            "input_file_id": batch["input_file_id"],
            "completion_window": batch["completion_window"],
            "created_at": batch["created_at"],
            "metadata": batch["metadata"],
            "status": batch["final"] if ended else "in_progress",
            "output_file_id": batch.get("output_file_id") if ended else None,
            "error_file_id": batch.get("error_file_id") if ended else None,
            "errors": batch.get("errors"),
            "request_counts": counts,
        }
