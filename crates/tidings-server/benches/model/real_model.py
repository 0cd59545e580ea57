#!/usr/bin/env python3
"""Reply drafts from a real model, end to end (issue 14; docs/EVALUATION.md "A real model").

Starts an OpenAI-compatible server (llama-cpp-python's) on a GGUF model and `tidings serve`
pointed at it with `[ai.model]`, then drives Tidings over its API as a user would: sign up,
import reviews from CSV, add an FAQ entry, wait for the analysis, ask for drafts in three tones
on each review, and print what came back (source, tones, confidence, the guardrail's verdict,
tokens and latency). It fails when no answer came from the model, so the run proves the model
path and not only the offline composer (a small model often breaks the JSON it is asked for;
those answers fall back to the composer and are counted).

    python3 real_model.py --tidings target/release/tidings --model SmolLM2-135M-Instruct.Q4_1.gguf

Needs `pip install 'llama-cpp-python[server]'` (builds llama.cpp from source: several minutes).
Kept out of `cargo test`: it builds and runs a model.
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

REVIEWS = """platform,external_id,location,author,rating,title,text,date
google,rm-1,,Ana Baker,5,,"Lovely brunch, the eggs were perfect and the staff so kind.",2026-11-02
google,rm-2,,Ben Cole,1,,"Cold soup, we waited 40 minutes and nobody apologised.",2026-11-03
google,rm-3,,Cy Dunn,4,,"Great coffee. Do you have gluten-free options?",2026-11-04
"""
FAQ = {
    "kind": "faq",
    "title": "Do you have gluten-free options?",
    "body": "Yes: gluten-free bread and two gluten-free cakes every day.",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(method, url, token=None, body=None, content_type="application/json"):
    data = None
    headers = {}
    if body is not None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        headers["content-type"] = content_type
    if token:
        headers["authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def wait_until_up(url, what, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.5)
    sys.exit(f"{what} did not start within {seconds} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tidings", required=True, help="the tidings binary")
    parser.add_argument("--model", required=True, help="a GGUF file")
    parser.add_argument("--python", default=sys.executable, help="the Python with llama-cpp-python[server]")
    args = parser.parse_args()

    model_port, tidings_port = free_port(), free_port()
    data_dir = tempfile.mkdtemp(prefix="tidings-real-model-")
    model_name = os.path.basename(args.model)
    llm = subprocess.Popen(
        [args.python, "-m", "llama_cpp.server", "--model", args.model, "--host", "127.0.0.1",
         "--port", str(model_port), "--n_ctx", "4096", "--model_alias", model_name],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = dict(os.environ,
               TIDINGS_LISTEN=f"127.0.0.1:{tidings_port}", TIDINGS_DATA_DIR=data_dir,
               TIDINGS_AI__MODEL__BASE_URL=f"http://127.0.0.1:{model_port}/v1",
               TIDINGS_AI__MODEL__MODEL=model_name, TIDINGS_AI__MODEL__TIMEOUT_SECS="240",
               TIDINGS_HTTP__REQUEST_TIMEOUT_SECS="300", TIDINGS_DEMO__SEED_ON_EMPTY="false",
               TIDINGS_LOG_LEVEL="warn")
    tidings = subprocess.Popen([args.tidings, "serve"], env=env)
    base = f"http://127.0.0.1:{tidings_port}/api/v1"
    from_model, asked = 0, 0
    try:
        wait_until_up(f"http://127.0.0.1:{model_port}/v1/models", "the model server")
        wait_until_up(f"http://127.0.0.1:{tidings_port}/health", "tidings")
        status, session = call("POST", f"{base}/auth/register", body={
            "email": "eval@example.com", "password": "correct horse battery", "name": "Eval",
            "workspaceName": "Harbour Café"})
        assert status == 201, (status, session)
        token = session["data"]["accessToken"]
        status, body = call("POST", f"{base}/ai/knowledge", token, FAQ)
        assert status == 201, (status, body)
        status, body = call("POST", f"{base}/reviews/import", token, REVIEWS, "text/csv")
        assert status == 202, (status, body)
        deadline = time.time() + 60
        reviews = []
        while time.time() < deadline and len(reviews) < 3:
            time.sleep(0.5)
            _, listed = call("GET", f"{base}/reviews", token)
            reviews = [r for r in listed["data"]["reviews"] if r.get("sentiment")]
        assert len(reviews) == 3, "the imported reviews were not analysed"
        for review in sorted(reviews, key=lambda r: r["id"]):
            started = time.time()
            status, out = call("POST", f"{base}/ai/generate-response", token, {
                "conversationId": review["id"], "tones": ["professional", "friendly", "empathetic"]})
            elapsed = time.time() - started
            assert status == 200, (status, out)
            data = out["data"]
            print(f"\n## {review['rating']}★ {review['text']!r}")
            print(f"source={data['source']} fallback={data.get('fallbackReason')} "
                  f"tokens={data['usage']['promptTokens']}+{data['usage']['completionTokens']} latency={elapsed:.1f}s")
            for draft in data["responses"]:
                verdict = "passed" if draft["passed"] else f"violations={draft['violations']}"
                print(f"- {draft['tone']} ({draft['confidence']:.2f}, {verdict}): {draft['text']}")
            for dropped in data["dropped"]:
                print(f"- held back {dropped['tone']}: {dropped['violations']} {dropped['text']!r}")
            asked += 1
            from_model += data["source"] == "model"
    finally:
        tidings.terminate()
        llm.terminate()
        tidings.wait(timeout=30)
        llm.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)
    print(f"\nthe model answered {from_model} of {asked} requests; the rest fell back to the offline composer")
    if not from_model:
        sys.exit("no answer came from the model")


if __name__ == "__main__":
    main()
