"""A real OpenAI-compatible HTTP server on 127.0.0.1 for translate tests and the benchmark (stdlib only).

It speaks `POST /v1/chat/completions` over HTTP/1.1 keep-alive and "translates" the last user message with a
deterministic word table plus a letter-by-letter transliteration into Chinese characters, copying placeholders
(⟦n⟧), digits and newlines through. Faults are injected per text and attempt so every run is reproducible:

    FakeOpenAI(faults={"dog": ["429", "preamble"]})   # text with "dog": 1st try 429, 2nd a preamble, then OK

Fault names: 429 (with Retry-After), 500, 503, timeout (sleeps past the client's timeout), drop (closes the
connection without answering), length (cut-off answer, finish_reason "length"), preamble, commentary, refusal,
lost_placeholder, dup_placeholder, traditional (the right answer in Traditional script), english (echo), empty;
and "=TEXT" answers TEXT itself (a planted answer, e.g. one defect that only clean's checks see).
An answer longer than the request's max_tokens (1 token = 1 character here) is cut with finish_reason "length",
as a real server does. Every request is logged (time, text, fault, status) for tests that count requests.

A packed request (user message of `[[n]]` items, zqvl's pack format) is answered item by item, each exactly as
it would be alone, so packed and unpacked runs get the same translations. Faults are planned per item: a
transport fault (429, 500, timeout, drop, a broken body) of any item hits the whole request, a content fault
only its item, and two pack faults break the numbering: "merge" (the item's text joins the previous item's)
and "skip" (the item is left out). `count_tokens` (e.g. the real Qwen tokenizer over the ChatML text) makes
`usage.prompt_tokens` exact; by default it is characters / 4.

Standalone (the benchmark, or trying translate offline): `python tests/helpers/fake_openai_server.py --port 8765`
prints the base URL and serves until SIGTERM; `--write-sample DIR` writes English records to translate.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import opencc

try:
    from helpers.fake_batches import FakeBatches, Reply
except ImportError:  # run as a script (the benchmark's server process)
    from fake_batches import FakeBatches, Reply  # type: ignore[no-redef]

# Common words get real Chinese; the rest is transliterated letter by letter. Every character here survives
# opencc s2t -> t2s unchanged, so a "traditional" fault is exactly repairable (tests check this table).
WORDS = {
    "what": "什么",
    "is": "是",
    "this": "这",
    "image": "图片",
    "picture": "图片",
    "photo": "照片",
    "the": "",
    "a": "一个",
    "an": "一个",
    "in": "在",
    "of": "的",
    "and": "和",
    "on": "在",
    "with": "带着",
    "dog": "狗",
    "cat": "猫",
    "man": "男人",
    "woman": "女人",
    "car": "车",
    "sign": "标志",
    "street": "街道",
    "does": "",
    "show": "显示",
    "shows": "显示",
    "describe": "描述",
    "give": "给出",  # instructions must come back as ones (clean's answered.instruction_done)
    "compare": "比较",
    "there": "那里",
    "are": "是",
    "how": "怎么",
    "many": "多少",
    "people": "人们",
    "color": "颜色",
    "red": "红色",
    "blue": "蓝色",
    "reads": "写着",
    "says": "说",
    "text": "文字",
    "at": "在",
    "to": "到",
    "it": "它",
    "you": "你",
    "can": "能",
    "see": "看见",
    "beach": "海滩",
    "plays": "玩",
    "young": "年轻的",
    "her": "她的",
    "two": "两",
}
LETTERS = "这个图说马车门书鸟鱼龙东长风云为开关时间问题电话气学习语言"[:26]
PUNCT = {"?": "？", ",": "，", ".": "。", "!": "！", ":": "：", ";": "；"}
_TOKEN = re.compile(r"⟦\d+⟧|[A-Za-z]+(?:'[A-Za-z]+)?|\d+(?:\.\d+)?|\n|[ \t]+|.", re.S)
_PLACEHOLDER = re.compile(r"⟦\d+⟧")
_S2T = opencc.OpenCC("s2t")
FAULTS = {
    "429",
    "500",
    "503",
    "timeout",
    "drop",
    "length",
    "preamble",
    "commentary",
    "refusal",
    "lost_placeholder",
    "dup_placeholder",
    "traditional",
    "english",
    "empty",
}
# Hostile 200 responses: the body itself is broken, or the answer carries the caller's API key.
BROKEN_BODIES = {
    "bad_json": b'{"choices": [',
    "empty_body": b"",
    "deep_body": b'{"choices": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "content_list": json.dumps({"choices": [{"message": {"content": [{"text": "x"}]}}]}).encode(),
    "content_int": json.dumps({"choices": [{"message": {"content": 7}}]}).encode(),
}
FAULTS |= set(BROKEN_BODIES) | {"echo_key", "merge", "skip"}
WHOLE_REQUEST = {"429", "500", "503", "timeout", "drop", "echo_key"} | set(BROKEN_BODIES)
_ITEM = re.compile(r"^\[\[(\d+)\]\]$", re.M)


def pack_items(text: str) -> list[str] | None:
    """The item texts of a packed user message, or None when it is a single text."""
    if not text.startswith("[[1]]\n"):
        return None
    marks = list(_ITEM.finditer(text))
    ends = [m.start() - 1 for m in marks[1:]] + [len(text)]
    return [text[m.end() + 1 : end] for m, end in zip(marks, ends)]


def fake_translate(text: str) -> str:
    """Deterministic English -> Chinese-looking text; placeholders, digits and newlines pass through."""
    parts = []
    for tok in _TOKEN.findall(text):
        if tok[0] == "⟦" or tok[0].isdigit() or tok == "\n":
            parts.append(tok)
        elif tok[0].isalpha():
            low = tok.lower()
            parts.append(
                WORDS[low] if low in WORDS else "".join(LETTERS[(ord(c) - 97) % 26] for c in low if c.isalpha())
            )
        elif tok.isspace():
            continue
        else:
            parts.append(PUNCT.get(tok, tok))
    return "".join(parts)


@dataclass
class Logged:
    t: float
    text: str
    model: str
    max_tokens: int | None
    fault: str | None
    status: int
    auth: str
    items: tuple[str, ...] = ()  # the texts of a packed request
    batch: bool = False  # a line of a batch (/v1/batches), not a live request

    @property
    def texts(self) -> tuple[str, ...]:
        """The strings this request asked for: a pack's items, or its one text."""
        return self.items or (self.text,)


class FakeOpenAI:
    """Thread-backed server: `with FakeOpenAI(latency=0.05) as srv: srv.base_url` ."""

    def __init__(
        self,
        latency: float = 0.0,
        api_key: str | None = None,
        faults: dict | None = None,
        retry_after: str = "0",
        timeout_sleep: float = 3.0,
        count_tokens=None,
    ):
        self.count_tokens = count_tokens  # messages -> prompt tokens; None: characters / 4
        self.latency = latency
        self.api_key = api_key
        self.faults = {k: list(v) for k, v in (faults or {}).items()}
        for seq in self.faults.values():
            unknown = {f for f in seq if not f.startswith("=")} - FAULTS
            assert not unknown, f"unknown faults {unknown}"
        self.retry_after = retry_after
        self.timeout_sleep = timeout_sleep
        self.log: list[Logged] = []
        self._attempts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self.batches = FakeBatches(self)

    # -- bookkeeping ---------------------------------------------------------------------------------------
    def _plan(self, text: str) -> str | None:
        with self._lock:
            n = self._attempts.get(text, 0)
            self._attempts[text] = n + 1
        for trigger, seq in self.faults.items():
            if trigger in text and n < len(seq):
                return seq[n]
        return None

    def requests_for(self, text: str) -> int:
        """Requests that carried `text`, alone or as an item of a pack."""
        return sum(1 for r in self.log if r.text == text or text in r.items)

    def packed(self) -> list[Logged]:
        return [r for r in self.log if r.items]

    def answer_pack(self, items: list[str], faults: list[str | None]) -> str:
        blocks = []
        for i, (item, fault) in enumerate(zip(items, faults), 1):
            if fault == "skip":
                continue
            content, _ = self.answer(item, None if fault in WHOLE_REQUEST | {"merge"} else fault)
            if fault == "merge" and blocks:
                blocks[-1] += "\n" + content
            else:
                blocks.append(f"[[{i}]]\n{content}")
        return "\n".join(blocks)

    def texts(self) -> list[str]:
        """Every string asked for, one entry per request that carried it (packed or alone)."""
        return [t for r in self.log for t in r.texts]

    # -- answers -------------------------------------------------------------------------------------------
    def answer(self, text: str, fault: str | None) -> tuple[str, str]:
        good = fake_translate(text)
        if fault and fault.startswith("="):
            return fault[1:], "stop"
        if fault == "length":
            return good[: max(1, len(good) // 2)], "length"
        content = {
            None: good,
            "timeout": good,  # too late: the client has given up by now
            "preamble": "以下是翻译：\n" + good,
            "commentary": good + "\n（注：这是直译。）",
            "refusal": "抱歉，我无法协助完成这个请求。",
            "lost_placeholder": _PLACEHOLDER.sub("", good, count=1),
            "dup_placeholder": good + "".join(_PLACEHOLDER.findall(good)[:1]),
            "traditional": _S2T.convert(good),
            "english": text,
            "empty": "",
        }[fault]
        return content, "stop"

    # -- one chat completion (live, or a line of a batch) ---------------------------------------------------
    def chat(self, req: dict, auth: str, batch: bool = False) -> Reply:
        text = next((m["content"] for m in reversed(req.get("messages", [])) if m.get("role") == "user"), "")
        model = req.get("model", "")
        max_tokens = req.get("max_tokens") or req.get("max_completion_tokens")
        if self.api_key is not None and auth != f"Bearer {self.api_key}":
            self.log.append(Logged(time.time(), text, model, max_tokens, None, 401, auth, batch=batch))
            # Like a careless real server, echo what it got: the client must never print this.
            message = f"Incorrect API key provided: {auth[7:]}"
            return Reply(
                401, {"error": {"message": message, "type": "invalid_request_error", "code": "invalid_api_key"}}
            )
        items = pack_items(text)
        if items is None:
            fault = self._plan(text)
        else:
            item_faults = [self._plan(item) for item in items]
            fault = next((f for f in item_faults if f in WHOLE_REQUEST), None)
        status = {"429": 429, "500": 500, "503": 503}.get(fault, 200)
        self.log.append(Logged(time.time(), text, model, max_tokens, fault, status, auth, tuple(items or ()), batch))
        sleep = self.latency + (self.timeout_sleep if fault == "timeout" else 0.0)
        if fault == "drop":
            return Reply(0, drop=True, sleep=sleep)
        if status == 429:
            body = {"error": {"message": "Rate limit reached", "type": "rate_limit"}}
            return Reply(429, body, {"Retry-After": self.retry_after}, sleep=sleep)
        if status >= 500:
            return Reply(status, {"error": {"message": "internal error", "type": "server_error"}}, sleep=sleep)
        if fault in BROKEN_BODIES:
            return Reply(200, raw=BROKEN_BODIES[fault], sleep=sleep)
        if items is None:
            content, finish = self.answer(text, None if fault == "echo_key" else fault)
        else:
            content, finish = self.answer_pack(items, item_faults), "stop"
        if fault == "echo_key":
            content += f" (key {auth[7:]})"
        if max_tokens is not None and len(content) > max_tokens:
            content, finish = content[:max_tokens], "length"
        if self.count_tokens is not None:
            prompt_tokens = self.count_tokens(req.get("messages", []))
        else:
            prompt_tokens = sum(len(m.get("content", "")) for m in req.get("messages", [])) // 4
        body = {
            "id": f"chatcmpl-{len(self.log)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": len(content),
                "total_tokens": prompt_tokens + len(content),
            },
        }
        return Reply(200, body, sleep=sleep)

    # -- lifecycle -----------------------------------------------------------------------------------------
    def start(self, port: int = 0) -> str:
        server = self

        class Handler(_Handler):
            fake = server

        self._httpd = _Server(("127.0.0.1", port), Handler)
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self.base_url

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # listen backlog: many clients connect at once


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one connection per client slot, like a real endpoint
    # One write per response with TCP_NODELAY: headers and body in separate packets would meet the client's
    # delayed ACK (Nagle) and stall every request by ~40 ms.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    fake: FakeOpenAI

    def log_message(self, *args):  # quiet
        pass

    def _send(self, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _send_raw(self, status: int, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        fake = self.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if len(raw) < length:  # the client died mid-request (kill -9): nothing to answer, nothing to log
            self.close_connection = True
            return
        if self.path.startswith(("/v1/files", "/v1/batches")):
            return self._answer(fake.batches.post(self.path, self.headers, raw))
        try:
            req = json.loads(raw)
        except ValueError:
            return self._send(400, {"error": {"message": "body is not JSON", "type": "invalid_request_error"}})
        if self.path.rstrip("/") != "/v1/chat/completions":
            return self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
        self._answer(fake.chat(req, self.headers.get("Authorization", "")))

    def do_GET(self):
        self._answer(self.fake.batches.get(self.path, self.headers))

    def _answer(self, reply: Reply) -> None:
        if reply.sleep:
            time.sleep(reply.sleep)
        if reply.drop:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif reply.raw is not None:
            self._send_raw(reply.status, reply.raw)
        else:
            self._send(reply.status, reply.body, reply.headers)

    def handle(self):
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test); nothing to answer


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    p.add_argument("--write-sample", metavar="DIR", help="write 200 English sample records to DIR and exit")
    args = p.parse_args(argv)
    if args.write_sample:
        try:
            from helpers.translate_records import sample_records, write_chat_dir
        except ImportError:  # run as a script: tests/helpers is the path
            from translate_records import sample_records, write_chat_dir  # type: ignore[no-redef]

        print(write_chat_dir(args.write_sample, sample_records(200)))
        return
    srv = FakeOpenAI(latency=args.latency)
    print(srv.start(args.port), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        threading.Event().wait()  # serve until SIGTERM / Ctrl-C
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
