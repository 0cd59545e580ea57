"""Python reference for the local-pipeline benchmark: vaderSentiment + langdetect + yake,
one text at a time, single thread. Prints `items_per_s p99_ms items_per_cpu_s` for the texts of
the JSON Lines files given (the same corpus the Rust bench runs); the last figure divides by the
thread's CPU time, which a loaded machine does not inflate as it does wall time.
Needs: pip install vaderSentiment langdetect yake
"""
import json, sys, time

import yake
from langdetect import DetectorFactory, detect
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

DetectorFactory.seed = 0
texts = [json.loads(l)["text"] for f in sys.argv[2:] for l in open(f, encoding="utf-8") if l.strip()]
rounds = int(sys.argv[1])
vader = SentimentIntensityAnalyzer()
extractor = yake.KeywordExtractor(n=3, top=5)
latencies = []
start = time.perf_counter()
cpu_start = time.thread_time()
for _ in range(rounds):
    for t in texts:
        t0 = time.perf_counter()
        try:
            lang = detect(t)
        except Exception:
            lang = "unknown"
        vader.polarity_scores(t)
        extractor.extract_keywords(t)
        latencies.append(time.perf_counter() - t0)
elapsed = time.perf_counter() - start
cpu = time.thread_time() - cpu_start
latencies.sort()
print("%.1f %.3f %.1f" % (len(latencies) / elapsed, latencies[int(len(latencies) * 0.99)] * 1000, len(latencies) / cpu))
