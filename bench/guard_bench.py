"""Guard scanners: quality on the labelled dev sets and speed, with ratios against the targets (issue #7).

Quality (held out = sha256(text)[0] % 10 < 3, never used for training or tuning the injection model):
  injection: detection at 1/2/5 % false positives on the held-out random split (shipped model), and
             on a source-held-out split (each source group scored by a model retrained without it);
             target >= 90 % at <= 2 %.
  PII:       recall per type (>= 95 %) and false hits, side by side with Presidio's pattern
             recognizers run by shared/anchors/presidio_scan.py on the same texts.
  secrets:   detect-secrets positives caught (>= 90 %) at false positives on its negatives (<= 5 %).
Speed (one core, median of --repeat runs): PII + secrets MB/s (>= 20 MB/s, >= 200x Presidio),
injection ms per KB (<= 0.3), streaming hold-back delay.

    .venv/bin/python bench/guard_bench.py [--repeat 5] [--no-presidio]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchlib import rate_row
from keel.guard import StreamFilter, injection, pii, secrets, train
from keel.guard.evaluate import PII_FILES, PII_TYPES, pii_figures, pii_rows, read_jsonl

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "vectors" / "guard"
ANCHORS = ROOT.parent / "shared" / "anchors"
PRESIDIO_PY = Path(os.environ.get("ANCHORS_VENV", "/tmp/anchors-venv")) / "bin" / "python"


def bench_injection() -> None:
    print("\nInjection (rules + hashed char n-gram presence logistic regression)")
    rows = train.load(DATA)
    held = [r for r in rows if train.held_out(r["text"])]
    y = np.array([r["label"] == "injection" for r in held], dtype=int)
    s = np.array([injection.score(r["text"]) for r in held])
    print(
        f"  random split: {len(held)} held-out rows ({y.sum()} injection, {len(y) - y.sum()} benign)"
    )
    for fpr in (0.01, 0.02, 0.05):
        rate_row(
            f"detection at {fpr:.0%} false positives", train.tpr_at(y, s, fpr) * 100, "%", 90, True
        )
    th = injection.model().threshold
    print(
        f"  shipped threshold {th:.3f}: {np.mean(s[y == 1] >= th):.1%} caught, "
        f"{np.mean(s[y == 0] >= th):.1%} of benign flagged"
    )

    # Source-held-out: every group is scored by a model that never saw it (dolly, the benign
    # background, is split five ways instead so every fold still has ordinary prompts).
    c = float(np.load(train.DEFAULT_OUT)["c"])
    groups = [train.source_group(r) for r in rows]
    folds, names = train.source_folds(rows)
    labels = np.array([r["label"] == "injection" for r in rows], dtype=int)
    scores = train.cross_scores([r["text"] for r in rows], labels, c, folds)
    print(f"  source-held-out split (all {len(rows)} dev rows, {len(names)} groups, C={c:g}):")
    for fpr in (0.01, 0.02, 0.05):
        rate_row(
            f"detection at {fpr:.0%} false positives",
            train.tpr_at(labels, scores, fpr) * 100,
            "%",
            90,
            True,
        )
    cut = np.sort(scores[labels == 0])[::-1][int(0.02 * (labels == 0).sum())]
    for name in names:
        idx = [i for i, g in enumerate(groups) if g == name]
        pos = [scores[i] > cut for i in idx if labels[i]]
        neg = [scores[i] > cut for i in idx if not labels[i]]
        parts = []
        if pos:
            parts.append(f"{np.mean(pos):.0%} of {len(pos)} injections caught")
        if neg:
            parts.append(f"{np.mean(neg):.0%} of {len(neg)} benign flagged")
        print(f"    {name:48} {', '.join(parts)}")


def presidio_findings(rows: list[dict]) -> tuple[list[list[dict]], float] | None:
    if not PRESIDIO_PY.exists():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.jsonl", Path(tmp) / "out.jsonl"
        src.write_text("".join(json.dumps({"text": r["text"]}) + "\n" for r in rows))
        done = subprocess.run(
            [str(PRESIDIO_PY), str(ANCHORS / "presidio_scan.py"), "--jsonl", str(src), "--out", str(out), "--repeat", "3"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode:
            print(f"  Presidio failed: {done.stderr.strip().splitlines()[-1:]}")
            return None
        mbs = 0.0
        for line in done.stderr.splitlines():
            if "MB/s" in line:
                mbs = float(line.split("texts/s,")[1].split("MB/s")[0])
        results = [json.loads(line)["findings"] for line in out.read_text().splitlines()]
    mapped = [[{**f, "type": f["type"]} for f in found] for found in results]
    return mapped, mbs


def bench_pii(use_presidio: bool) -> float | None:
    print("\nPII (RE2 prefilter + validators) vs Presidio pattern recognizers, same texts")
    presidio_mbs = None
    for name in PII_FILES:
        for part, keep in (("held-out", True), ("all dev", None)):
            rows = [
                r for r in pii_rows(DATA, name) if keep is None or train.held_out(r["text"]) == keep
            ]
            caught, total, false = pii_figures(rows)
            other = presidio_findings(rows) if use_presidio else None
            p_caught = p_false = None
            if other:
                found, mbs = other
                by_text = dict(zip((r["text"] for r in rows), found, strict=False))
                p_caught, _, p_false = pii_figures(rows, lambda t, m=by_text: m[t])
                presidio_mbs = presidio_mbs or mbs
            print(
                f"  {name} ({part}, {len(rows)} texts)      Keel recall  false hits"
                + ("   | Presidio recall  false hits" if other else "")
            )
            for kind in PII_TYPES:
                if not total[kind] and not false[kind]:
                    continue
                rec = (
                    f"{caught[kind]}/{total[kind]} = {caught[kind] / total[kind]:.0%}"
                    if total[kind]
                    else "-"
                )
                line = f"    {kind:16} {rec:>18} {false[kind]:6}"
                if p_caught is not None:
                    prec = (
                        f"{p_caught[kind]}/{total[kind]} = {p_caught[kind] / total[kind]:.0%}"
                        if total[kind]
                        else "-"
                    )
                    line += f"   | {prec:>18} {p_false[kind]:6}"
                print(line)
            line = f"    {'all false hits':16} {'':>18} {sum(false.values()):6}"
            if p_false is not None:
                all_presidio = sum(p_false.values())
                line += f"   | {'':>18} {all_presidio:6}  (in the six types; Presidio's other types not counted)"
            print(line)
            low = [k for k in PII_TYPES if total[k] and caught[k] / total[k] < 0.95]
            print(
                f"    recall >= 95 % for every type: {'yes' if not low else 'NO: ' + ', '.join(low)}"
            )
    return presidio_mbs


def bench_secrets() -> None:
    print("\nSecrets (detect-secrets plugin test cases)")
    rows = read_jsonl(DATA / "secrets_dev.jsonl")
    for part, keep in (("held-out", True), ("all dev", None)):
        sel = [r for r in rows if keep is None or train.held_out(r["text"]) == keep]
        flagged = [bool(secrets.scan(r["text"])) for r in sel]
        pos = [f for f, r in zip(flagged, sel, strict=True) if r["label"] == "secret"]
        neg = [f for f, r in zip(flagged, sel, strict=True) if r["label"] != "secret"]
        print(f"  {part}: {len(pos)} secrets, {len(neg)} non-secrets")
        rate_row("  secrets caught", 100 * sum(pos) / len(pos), "%", 90, True)
        rate_row("  false positives on negatives", 100 * sum(neg) / len(neg), "%", 5, False)


def _median_seconds(fn, repeat: int, min_sample: float = 0.2) -> float:
    """Median seconds per call of `fn` over `repeat` samples, each calling it for >= `min_sample`
    seconds (a few-millisecond sample on a shared VM is mostly scheduling noise)."""
    start = time.perf_counter()
    fn()  # also warms caches
    loops = max(1, math.ceil(min_sample / max(time.perf_counter() - start, 1e-9)))
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        times.append((time.perf_counter() - start) / loops)
    return statistics.median(times)


def bench_speed(repeat: int, presidio_mbs: float | None) -> None:
    print(f"\nSpeed (one core, median of {repeat})")
    synth = [r["text"] for r in read_jsonl(DATA / "pii_synth_dev.jsonl")]
    joined = ["\n".join(synth[i : i + 12]) for i in range(0, len(synth), 12)]
    prompts = [r["text"] for r in train.load(DATA)]
    big = "\n".join(prompts)
    # sparse PII, as in most LLM replies: the benign prompts (dolly and others), one at a time
    benign = [r["text"] for r in read_jsonl(DATA / "benign_prompts_dev.jsonl")]

    def output_guard(texts: list[str]) -> None:
        for t in texts:
            pii.scan(t)
            secrets.scan(t)

    for label, texts in (
        (
            f"PII + secrets, {len(synth)} short texts (avg {sum(map(len, synth)) // len(synth)} B)",
            synth,
        ),
        (
            f"PII + secrets, texts joined 12 at a time (~{sum(map(len, joined)) // len(joined)} B)",
            joined,
        ),
        (f"PII + secrets, one {len(big.encode()) // 1024} KB document", [big]),
        (
            f"PII + secrets, {len(benign)} benign texts (avg {sum(map(len, benign)) // len(benign)} B)",
            benign,
        ),
    ):
        mb = sum(len(t.encode()) for t in texts) / 1e6
        mbs = mb / _median_seconds(lambda texts=texts: output_guard(texts), repeat)
        rate_row(label, mbs, "MB/s", 20, True)
        if presidio_mbs:
            print(
                f"  {'':52} {mbs / presidio_mbs:10.0f}x Presidio ({presidio_mbs:.3f} MB/s on the short texts, target 200x)"
            )

    kb = sum(len(t.encode()) for t in prompts) / 1024
    secs = _median_seconds(lambda: [injection.score(t) for t in prompts], repeat)
    rate_row(
        f"injection, {len(prompts)} dev prompts ({kb:.0f} KB)",
        secs * 1000 / kb,
        "ms/KB",
        0.3,
        False,
    )
    long = [t for t in prompts if len(t) >= 1024]
    kb_long = sum(len(t.encode()) for t in long) / 1024
    secs = _median_seconds(lambda: [injection.score(t) for t in long], repeat)
    rate_row(
        f"injection, the {len(long)} prompts >= 1 KB", secs * 1000 / kb_long, "ms/KB", 0.3, False
    )
    short = [t for t in prompts if len(t) < 256]
    secs = _median_seconds(lambda: [injection.score(t) for t in short], repeat)
    print(
        f"  {'injection, fixed cost on the ' + str(len(short)) + ' prompts < 256 B':52} {secs / len(short) * 1e6:10.1f} us/prompt"
    )

    reply = ("Sure. Your account shows jane.doe@example.org and card 4539 1488 0343 6467.\n" * 14)[
        :1024
    ]
    mixed = " ".join(prompts)[:6000].replace("\n", " ")  # one long line, no newline
    prose = " ".join(
        r["text"].replace("\n", " ") for r in train.load(DATA) if train.source_group(r) == "dolly"
    )[:6000]
    for title, text in (
        ("a 1,024-char reply, short lines", reply),
        ("a 6,000-char line of prose (dolly instructions)", prose),
        ("a 6,000-char line of mixed prompts (quotes, code; over the 4 KiB hold-back)", mixed),
    ):
        print(f"  streaming filter (output stage), {title}:")
        for size in (128, 16, 4):
            chunks = [text[i : i + size] for i in range(0, len(text), size)]
            held, per_chunk = [], []
            for _ in range(repeat):
                flt = StreamFilter()
                for c in chunks:
                    start = time.perf_counter()
                    flt.feed(c)
                    per_chunk.append(time.perf_counter() - start)
                    held.append(flt.held)
                flt.close()
            print(
                f"    {len(chunks):4} chunks of {size:3} chars: {statistics.mean(per_chunk) * 1e6:7.1f} us CPU "
                f"per chunk (mean), held back median {statistics.median(held):.0f} / max {max(held)} chars "
                f"(= {statistics.median(held) / size:.1f} chunks of delay)"
            )


def bench_evasions() -> None:
    """Detection of each evasion family (held-out injections disguised by transformation) and
    false positives, with the shipped model and, per source group, with models that never saw
    the group; `injection.score` (no undoing) beside `score_undisguised` (what `scan` reads)."""
    from keel.guard.evaluate import EVASIONS, disguise

    print("\nInjection evasions (held-out rows disguised by transformation, issue 13 item 12)")
    rows = train.load(DATA)
    held = [r for r in rows if train.held_out(r["text"])]
    th = injection.model().threshold
    inj = [r["text"] for r in held if r["label"] == "injection"]
    ben = [r["text"] for r in held if r["label"] != "injection"]
    undisguised = injection.score_undisguised

    def rate(texts, fn, cut=th):
        return 100 * float(np.mean([fn(t) >= cut for t in texts]))

    print(f"  random split, shipped threshold {th:.3f} ({len(inj)} injections, {len(ben)} benign):")
    print(
        f"    {'plain':10} caught {rate(inj, injection.score):5.1f} % -> {rate(inj, undisguised):5.1f} %"
        f"   benign flagged {rate(ben, injection.score):4.1f} % -> {rate(ben, undisguised):4.1f} %"
    )
    for family in EVASIONS:
        d = [disguise(family, t) for t in inj]
        db = [disguise(family, t) for t in ben]
        print(
            f"    {family:10} caught {rate(d, injection.score):5.1f} % -> {rate(d, undisguised):5.1f} %"
            f"   disguised benign flagged {rate(db, undisguised):4.1f} %"
        )
    c = float(np.load(train.DEFAULT_OUT)["c"])
    folds, _ = train.source_folds(rows)
    labels = np.array([r["label"] == "injection" for r in rows], dtype=int)
    texts = [r["text"] for r in rows]
    families = ("plain", *EVASIONS)
    scores = {f: np.zeros(len(rows)) for f in families}
    for train_idx, test_idx in folds:
        m = train.fit([texts[i] for i in train_idx], labels[train_idx], c)
        for i in test_idx:
            for f in families:
                t = texts[i] if f == "plain" or not labels[i] else disguise(f, texts[i])
                scores[f][i] = injection.score_undisguised(t, m)
    neg = np.sort(scores["plain"][labels == 0])[::-1]
    cut = neg[int(0.02 * len(neg))]
    print("  source-held-out (each group scored by a model that never saw it; pooled 2 % FPR cut):")
    print(f"    benign flagged {100 * np.mean(scores['plain'][labels == 0] > cut):.1f} %")
    for f in families:
        print(f"    {f:10} caught {100 * np.mean(scores[f][labels == 1] > cut):5.1f} %")


def bench_guard_cpu(repeat: int) -> None:
    """CPU of the gateway's guards per 1 KB request and 1 KB answer (InputGuard + OutputGuard,
    default policy), against an in-process baseline: the same guards with the request's side
    fields left unscanned (as before issue 13 item 11; `_side_texts` answering nothing). The
    budget of issue 13 is <= 50 us added. Samples of each alternate, so load on the machine
    falls on both alike; medians of `repeat` rounds."""
    import asyncio
    from contextlib import contextmanager

    import orjson

    from keel.gateway import guards
    from keel.gateway.guards import InputGuard, OutputGuard, Policies
    from keel.gateway.hooks import Call
    from keel.guard.policy import DEFAULT_POLICY

    class Everywhere(Policies):
        def of(self, route):
            return DEFAULT_POLICY

    @contextmanager
    def side_fields_unscanned():
        scanned = guards._side_texts
        guards._side_texts = lambda call, main: []
        try:
            yield
        finally:
            guards._side_texts = scanned

    benign = [r["text"] for r in read_jsonl(DATA / "benign_prompts_dev.jsonl")]
    prose = " ".join(benign)
    prompt, reply = prose[:1024], prose[5000:6024]
    answer = orjson.dumps(
        {
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": reply}}],
            "usage": {"prompt_tokens": 250, "completion_tokens": 250, "total_tokens": 500},
        }
    )  # fmt: skip
    tools = [{"type": "function", "function": {"name": "lookup", "description": "Look up an order by id.",
              "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}}}}]  # fmt: skip
    guard_in, guard_out = InputGuard(Everywhere()), OutputGuard(Everywhere())
    loop = asyncio.new_event_loop()

    count = iter(range(1 << 62))

    def once(extra) -> None:
        extra = extra() if callable(extra) else extra
        body = {"model": "m", "messages": [{"role": "user", "content": prompt}], **extra}
        call = Call(id="b", operation="chat", started=0.0, body=body)
        loop.run_until_complete(guard_in(call))
        loop.run_until_complete(guard_out.response(call, answer))

    def sample(extra, loops: int = 200) -> float:
        start = time.process_time()
        for _ in range(loops):
            once(extra)
        return (time.process_time() - start) / loops

    print(
        f"\nGateway guards, CPU per request ({len(prompt)}-char prompt, {len(reply)}-char answer;"
        f" baseline: side fields unscanned, same process; median of {repeat})"
    )
    print(f"  {'':44} {'guards':>9} {'baseline':>9} {'added':>8}  ratio  (budget: +50 us)")
    for label, extra in (
        ("chat request + answer", {}),
        (
            "the same with a tool, user and metadata",
            {"tools": tools, "user": "u-1", "metadata": {"ticket": "T-1"}},
        ),
        (
            "  ... a new ticket in metadata each request",  # never seen: no clean verdict kept
            lambda: {"tools": tools, "user": "u-1", "metadata": {"ticket": f"T-{next(count)}"}},
        ),
    ):
        sample(extra, 20)  # warm
        guarded, base = [], []
        for _ in range(repeat):
            guarded.append(sample(extra))
            with side_fields_unscanned():
                base.append(sample(extra))
        g, b = statistics.median(guarded) * 1e6, statistics.median(base) * 1e6
        added = statistics.median(x - y for x, y in zip(guarded, base, strict=True)) * 1e6
        verdict = "ok" if added <= 50 else "OVER"
        print(f"  {label:44} {g:7.1f}us {b:7.1f}us {added:+6.1f}us  {g / b:4.2f}x  {verdict}")
    loop.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-presidio", action="store_true")
    ap.add_argument("--only", choices=["guards", "evasions"], help="one section only")
    a = ap.parse_args()
    if a.only == "guards":
        bench_guard_cpu(a.repeat)
        return 0
    if a.only == "evasions":
        bench_evasions()
        return 0
    if not DATA.exists():
        print(f"guard bench skipped: {DATA} not found")
        return 0
    if not a.no_presidio and not PRESIDIO_PY.exists():
        print(f"Presidio anchor not installed ({PRESIDIO_PY}); run bash ../shared/anchors/setup.sh")
    bench_injection()
    presidio_mbs = bench_pii(not a.no_presidio)
    bench_secrets()
    bench_evasions()
    bench_speed(a.repeat, presidio_mbs)
    bench_guard_cpu(a.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
