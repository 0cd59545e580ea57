"""VADER reference on labelled JSON Lines: the same label mapping as `tidings eval sentiment`
(compound >= 0.05 positive, <= -0.05 negative, otherwise neutral, which counts as an error on a
two-class set). Usage: pip install vaderSentiment && python3 vader_reference.py FILE.jsonl...
"""
import json, sys

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

vader = SentimentIntensityAnalyzer()
for path in sys.argv[1:]:
    total = correct = neutral = 0
    for line in open(path, encoding="utf-8"):
        if not line.strip():
            continue
        row = json.loads(line)
        c = vader.polarity_scores(row["text"])["compound"]
        label = "positive" if c >= 0.05 else "negative" if c <= -0.05 else "neutral"
        total += 1
        correct += label == row["label"]
        neutral += label == "neutral"
    print("%s: %d samples, accuracy %.4f, neutral %.1f%%" % (path, total, correct / total, 100 * neutral / total))
