"""Writes OUT (JSON Lines {"text","label"}): up to 200 translated UI strings per language from
the gettext catalogues inside the PyPI wheel Django 5.2.19, 20-59 characters, 3+ words, no
placeholders or markup. English is the msgid. A translation that keeps a word (3+ letters) of its
English original verbatim ("Views ohne Namespace", "Boolean (True of False)") is code-mixed and
left out. Usage: pip download --no-deps django==5.2.19 && unzip -q Django-5.2.19-*.whl && python3 django_short_texts.py OUT
"""
import gettext, glob, json, random, re, sys

languages = {"en": None, "es": "es", "fr": "fr", "de": "de", "it": "it", "pt": "pt", "nl": "nl", "pl": "pl", "sv": "sv", "tr": "tr", "ru": "ru"}
random.seed(14)
short = lambda t: 20 <= len(t) < 60 and not re.search(r"[%{}<>_]|\\n", t) and len(t.split()) >= 3
words = lambda t: {w.lower() for w in re.findall(r"[^\W\d_]{3,}", t)}
with open(sys.argv[1], "w", encoding="utf-8") as out:
    for code, locale in languages.items():
        texts = set()
        for mo in glob.glob("django/**/locale/%s/LC_MESSAGES/django.mo" % (locale or "es"), recursive=True):
            for source, translation in gettext.GNUTranslations(open(mo, "rb"))._catalog.items():
                if isinstance(source, tuple) or not source or not isinstance(translation, str):
                    continue
                text = source if locale is None else translation
                mixed = locale is not None and bool(words(translation) & words(source))
                if short(text) and (locale is None or translation != source) and not mixed:
                    texts.add(text.strip())
        texts = sorted(texts)
        random.shuffle(texts)
        for text in texts[:200]:
            out.write(json.dumps({"text": text, "label": code}, ensure_ascii=False) + "\n")
