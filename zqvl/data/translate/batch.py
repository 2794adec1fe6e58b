"""The Batch API path: the run's requests as OpenAI Batch JSONL, submitted, polled, and collected into the cache.

`--batch submit` writes every request the live run would send first (the same plan, cache check and packing,
one attempt each) into DIR2/.batch/requests-NNN.jsonl — the format OpenAI's /v1/batches and `vllm run-batch`
read — uploads each part through /v1/files and creates one batch per part (at most 50,000 requests and 190 MB,
OpenAI's limits). `status` shows each batch's progress. `collect` downloads the results of every batch that has
ended, passes each answer through the live path's own checks (`accept_reply`) into the same cache, and once no
batch is still running runs the live path, which finds those strings cached and sends only what the batches did
not deliver: failed lines, rejected answers, the rest of an expired, cancelled or failed batch.

Never twice: state.json is saved after every remote step; a submit that finds an earlier submission not yet
collected shows it (and finishes any part an interrupted submit left unsent) instead of sending anything new;
a batch created just before a crash, its id not yet saved, is found again by the submission token in its
metadata. DIR2/.batch/jobs-NNN.jsonl maps each request's custom_id to its strings and cache keys.
"""

from __future__ import annotations

import json
import secrets
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from zqvl.data.io import atomic_open, dumps
from zqvl.data.translate.cache import TranslationCache
from zqvl.data.translate.client import CallError, Secrets, parse_completion, public_url
from zqvl.data.translate.pack import pack_budget, pack_jobs, pack_messages
from zqvl.data.translate.plan import build_plan
from zqvl.data.translate.prompt import PROMPT_VERSION, completion_budget, messages
from zqvl.data.translate.runner import CACHE_NAME, TranslateOptions, owned_output, uncached_jobs
from zqvl.data.translate.spans import mask
from zqvl.data.translate.stats import Stats
from zqvl.data.translate.translator import accept_reply
from zqvl.errors import UsageError

BATCH_DIR = ".batch"
ENDPOINT = "/v1/chat/completions"
MAX_REQUESTS = 50_000  # OpenAI's limit per batch
MAX_BYTES = 190 * 2**20  # OpenAI's is 200 MB per input file; stay under it
RUNNING = {"validating", "in_progress", "finalizing", "cancelling"}


@dataclass
class Report:
    """What a --batch action prints: a table of the batches, a line saying what happened and what is next."""

    rows: list[list] = field(default_factory=list)
    message: str = ""
    pending: bool = False  # some batch is still running: nothing was written to DIR2 but the cache


class Remote:
    """The files and batches endpoints, through the `openai` SDK (its own retries on); errors become one line."""

    def __init__(self, opts: TranslateOptions):
        import openai

        self._openai = openai
        self.secrets = Secrets(opts.api_key, opts.base_url)
        self._client = openai.OpenAI(
            base_url=opts.base_url, api_key=opts.api_key or "EMPTY", max_retries=3, timeout=opts.timeout
        )
        self.where = public_url(opts.base_url)

    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except self._openai.APIStatusError as e:
            detail = f"HTTP {e.status_code}: {e.message}"
        except self._openai.APIError as e:
            detail = f"{type(e).__name__}: {e}"
        raise UsageError(self.secrets.redact(f"{self.where}: {what} failed ({detail})")[:400])

    def upload(self, path: Path) -> str:
        with open(path, "rb") as fh:
            return self._call("uploading the batch file", self._client.files.create, file=fh, purpose="batch").id

    def create(self, file_id: str, metadata: dict[str, str]) -> str:
        batch = self._call(
            "creating the batch",
            self._client.batches.create,
            input_file_id=file_id,
            endpoint=ENDPOINT,
            completion_window="24h",
            metadata=metadata,
        )
        return batch.id

    def find(self, metadata: dict[str, str]) -> str | None:
        """The batch an interrupted submit created with this metadata, if the endpoint lists it."""
        for batch in self._call("listing batches", self._client.batches.list, limit=100):
            if all((batch.metadata or {}).get(k) == v for k, v in metadata.items()):
                return batch.id
        return None

    def retrieve(self, batch_id: str):
        return self._call(f"reading batch {batch_id}", self._client.batches.retrieve, batch_id)

    def content(self, file_id: str) -> bytes:
        return self._call(f"downloading file {file_id}", self._client.files.content, file_id).content


# -- state ----------------------------------------------------------------------------------------------------
def _load(state_dir: Path) -> dict | None:
    try:
        return json.loads((state_dir / "state.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise UsageError(f"{state_dir / 'state.json'}: unreadable batch state ({e})") from None


def _save(state_dir: Path, state: dict) -> None:
    with atomic_open(state_dir / "state.json") as fh:
        fh.write(json.dumps(state, indent=1) + "\n")


def _same_run(state: dict, opts: TranslateOptions) -> None:
    if state["model"] != opts.model:
        raise UsageError(f"the batches in this --out were submitted for --model {state['model']}, not {opts.model}")
    if state["prompt_version"] != PROMPT_VERSION:
        raise UsageError(
            f"the batches in this --out were built with prompt {state['prompt_version']}, this zqvl uses "
            f"{PROMPT_VERSION}; their answers cannot be cached for it (submit again into a new --out)"
        )


def _rows(state: dict, remote: Remote | None) -> list[list]:
    rows = []
    for part in state["parts"]:
        status, done = part.get("status", "not sent"), ""
        if part.get("batch_id") and remote is not None and not part["collected"]:
            batch = remote.retrieve(part["batch_id"])
            status, counts = batch.status, batch.request_counts
            if counts is not None:
                done = f"{counts.completed} done, {counts.failed} failed of {counts.total}"
        elif part["collected"]:
            result = part["result"]
            done = f"{result['accepted']} of {part['strings']} strings accepted"
        rows.append(
            [
                part["name"],
                part.get("batch_id") or "-",
                status,
                part["requests"],
                done,
                "yes" if part["collected"] else "no",
            ]
        )
    return rows


HEADERS = ["part", "batch", "status", "requests", "progress", "collected"]


# -- submit ---------------------------------------------------------------------------------------------------
def _request(opts: TranslateOptions, custom_id: str, sources: list[str]) -> dict:
    bodies = [mask(s).body for s in sources]
    if len(bodies) == 1:
        msgs, budget = messages(bodies[0]), completion_budget(bodies[0], opts.max_tokens)
    else:
        msgs, budget = pack_messages(bodies), pack_budget(bodies, opts.max_tokens)
    body = {"model": opts.model, "messages": msgs, "max_tokens": budget, "temperature": opts.temperature}
    return {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body}


def _write_parts(state_dir: Path, source: Path, opts: TranslateOptions) -> list[dict]:
    """Write requests-NNN.jsonl and jobs-NNN.jsonl for every uncached job; the parts' descriptions."""
    for old in [*state_dir.glob("requests-*.jsonl"), *state_dir.glob("jobs-*.jsonl")]:
        old.unlink()  # an earlier, collected submission's
    plan = build_plan(source, opts.dedupe, Stats(dedupe=opts.dedupe), limit=opts.limit)
    cache = TranslationCache(opts.cache_path or state_dir.parent / CACHE_NAME)
    parts: list[dict] = []
    writers: list = []
    try:
        groups = pack_jobs(uncached_jobs(plan, cache, opts.model, lambda: None), lambda j: j[1], opts.pack_tokens)
        for group in groups:
            if not parts or parts[-1]["requests"] >= MAX_REQUESTS or parts[-1]["bytes"] >= MAX_BYTES:
                for w in writers:
                    w.__exit__(None, None, None)
                name = f"{len(parts):03d}"
                writers = [atomic_open(state_dir / f"{kind}-{name}.jsonl") for kind in ("requests", "jobs")]
                requests_fh, jobs_fh = (w.__enter__() for w in writers)
                parts.append({"name": name, "requests": 0, "strings": 0, "bytes": 0})
            part = parts[-1]
            custom_id = f"{part['name']}-{part['requests']:06d}"
            line = dumps(_request(opts, custom_id, [src for _, src, _ in group])) + "\n"
            requests_fh.write(line)
            asked = [src in plan.asked for _, src, _ in group]
            jobs_fh.write(dumps({"custom_id": custom_id, "jobs": [list(job) for job in group], "asked": asked}) + "\n")
            part["requests"] += 1
            part["strings"] += len(group)
            part["bytes"] += len(line.encode())
        for w in writers:
            w.__exit__(None, None, None)
    except BaseException as e:
        for w in writers:
            w.__exit__(type(e), e, e.__traceback__)  # an unfinished part file never appears
        raise
    finally:
        cache.close()
    for part in parts:
        part.update(input_file_id=None, batch_id=None, collected=False)
    return parts


def _send(state: dict, state_dir: Path, remote: Remote) -> int:
    """Upload and create what is not yet on the endpoint (state saved after each step); the batches created."""
    created = 0
    for part in state["parts"]:
        if part["batch_id"]:
            continue
        metadata = {"zqvl_submission": state["token"], "zqvl_part": part["name"]}
        found = remote.find(metadata) if part["input_file_id"] else None
        if found is None:
            if not part["input_file_id"]:
                part["input_file_id"] = remote.upload(state_dir / f"requests-{part['name']}.jsonl")
                _save(state_dir, state)
            found = remote.create(part["input_file_id"], metadata)
            created += 1
        part["batch_id"] = found
        part["status"] = "submitted"
        _save(state_dir, state)
    return created


def submit(in_dir: str | Path, out_dir: str | Path, opts: TranslateOptions) -> Report:
    out_dir = Path(out_dir)
    state_dir = out_dir / BATCH_DIR
    remote = Remote(opts)
    with owned_output(in_dir, out_dir, opts.force) as (source, _):
        state_dir.mkdir(exist_ok=True)
        state = _load(state_dir)
        if state and not all(part["collected"] for part in state["parts"]):
            _same_run(state, opts)
            created = _send(state, state_dir, remote)
            what = f"finished an interrupted submit ({created} batch(es) created); " if created else ""
            return Report(
                _rows(state, remote),
                f"{what}already submitted: nothing new sent. `--batch status` shows progress, `--batch collect` "
                "fetches the results once the batches have ended",
            )
        parts = _write_parts(state_dir, source, opts)
        if not parts:
            return Report([], "nothing to submit: every string is in the cache; run without --batch to write DIR2")
        state = {"model": opts.model, "prompt_version": PROMPT_VERSION, "token": secrets.token_hex(8), "parts": parts}
        _save(state_dir, state)
        _send(state, state_dir, remote)
    strings = sum(p["strings"] for p in parts)
    requests = sum(p["requests"] for p in parts)
    return Report(
        _rows(state, None),
        f"submitted {strings} strings in {requests} requests ({len(parts)} batch(es)); `--batch status` shows "
        "progress, `--batch collect` fetches the results once the batches have ended",
    )


def status(out_dir: str | Path, opts: TranslateOptions) -> Report:
    state = _load(Path(out_dir) / BATCH_DIR)
    if state is None:
        raise UsageError(f"--out {out_dir}: no batch submitted here; run --batch submit first")
    rows = _rows(state, Remote(opts))
    running = any(row[2] in RUNNING for row in rows)
    return Report(rows, "still running: collect later" if running else "ended: run --batch collect", running)


# -- collect --------------------------------------------------------------------------------------------------
def _ingest(part: dict, batch, state_dir: Path, cache: TranslationCache, remote: Remote, state: dict) -> dict:
    """Every result line of one ended batch through the live checks into the cache; what became of them."""
    with open(state_dir / f"jobs-{part['name']}.jsonl", encoding="utf-8") as fh:
        entries = list(map(json.loads, fh))
    jobs = {entry["custom_id"]: entry["jobs"] for entry in entries}
    asked = {entry["custom_id"]: entry.get("asked") for entry in entries}  # absent in older state files
    counts: Counter = Counter()
    stats = Stats()  # collects the problems of rejected answers, as the live run's summary would
    answered: set[str] = set()
    for file_id in (batch.output_file_id, batch.error_file_id):
        if not file_id:
            continue
        for raw in remote.content(file_id).splitlines():
            try:
                line = json.loads(raw)
                group = jobs.get(line["custom_id"])
            except (ValueError, KeyError, TypeError):
                counts["unreadable result lines"] += 1
                continue
            if group is None or line["custom_id"] in answered:
                counts["unknown or repeated result lines"] += 1
                continue
            answered.add(line["custom_id"])
            response = line.get("response") or {}
            try:
                if response.get("status_code") != 200:
                    raise CallError(
                        "batch_error", str(line.get("error") or response.get("status_code")), retryable=True
                    )
                reply = parse_completion(response.get("body"), remote.secrets.redact)
                if remote.secrets.leaks(reply.content):
                    raise CallError("bad_response", "answer contains a secret", retryable=True)
            except CallError:
                counts["request errors"] += 1
                continue
            counts["prompt_tokens"] += reply.prompt_tokens
            counts["completion_tokens"] += reply.completion_tokens
            outcomes = accept_reply([mask(src) for _, src, _ in group], reply, stats, asked[line["custom_id"]])
            for (key, source, variant), out in zip(group, outcomes):
                if out is None:
                    counts["rejected"] += 1
                    continue
                cache.put(
                    key,
                    model=state["model"],
                    prompt_version=state["prompt_version"],
                    variant=variant,
                    source=source,
                    translation=out.translation,
                    prompt_tokens=out.prompt_tokens,
                    completion_tokens=out.completion_tokens,
                )
                counts["accepted"] += 1
    result = {"accepted": 0, "rejected": 0, "request errors": 0, **counts}
    result["requests without a result"] = len(jobs) - len(answered)
    result["problems"] = dict(sorted(stats.problems.items()))
    return result


def collect(in_dir: str | Path, out_dir: str | Path, opts: TranslateOptions) -> tuple[Report, dict]:
    """Ingest every ended batch; the report, and the totals over all parts once none is running (else {})."""
    out_dir = Path(out_dir)
    state_dir = out_dir / BATCH_DIR
    with owned_output(in_dir, out_dir, opts.force):
        state = _load(state_dir)
        if state is None:
            raise UsageError(f"--out {out_dir}: no batch submitted here; run --batch submit first")
        _same_run(state, opts)
        if any(not part["batch_id"] for part in state["parts"]):
            raise UsageError("an interrupted submit left a part unsent: run --batch submit again to finish it")
        remote = Remote(opts)
        cache = TranslationCache(opts.cache_path or out_dir / CACHE_NAME)
        try:
            for part in state["parts"]:
                if part["collected"]:
                    continue
                batch = remote.retrieve(part["batch_id"])
                part["status"] = batch.status
                if batch.status in RUNNING:
                    continue
                part["result"] = _ingest(part, batch, state_dir, cache, remote, state)
                part["collected"] = True
                _save(state_dir, state)
        finally:
            cache.close()
    running = [p for p in state["parts"] if not p["collected"]]
    if running:
        return Report(
            _rows(state, remote),
            f"{len(running)} batch(es) still running; what has ended is cached: run --batch collect again later",
            pending=True,
        ), {}
    totals: Counter = Counter()
    for part in state["parts"]:
        totals.update({k: v for k, v in part["result"].items() if isinstance(v, int)})
        totals.update({f"problem: {k}": v for k, v in part["result"]["problems"].items()})
    totals["strings submitted"] = sum(p["strings"] for p in state["parts"])
    totals["requests submitted"] = sum(p["requests"] for p in state["parts"])
    left = totals["strings submitted"] - totals["accepted"]
    return Report(
        _rows(state, None) + [["", "", "", "", f"{left} string(s) left to the live path", ""]],
        "batch results cached; translating what they did not deliver live and writing DIR2",
    ), dict(totals)
