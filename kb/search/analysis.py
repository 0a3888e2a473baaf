"""Text analysis: tokens → lowercase → accents folded → stop words dropped → stems.

Folding comes *before* stemming, so that "rambursări" and "rambursari" (or "ещё" and "еще") reach the
stemmer as the same word and meet in the index whichever way a writer or an agent typed them.
Cyrillic words are always stemmed as Russian; Latin-script words in the deployment's language
(`SEARCH_LANGUAGE`, English by default), so one index serves teams who write in both.
"""
import re
import unicodedata
from functools import lru_cache

from whoosh.analysis import Token, Tokenizer
from whoosh.lang import has_stemmer, stemmer_for_language, stopwords_for_language

# Whoosh ships no Romanian list; ours is written without diacritics because folding runs first.
ROMANIAN_STOP_WORDS = frozenset("""
a acea aceasta aceea acei aceia acel acela acest acesta acestea acestei acestia aceste acum ai aia aici al ale
alt alta alte altceva altcineva am ar are as asa asta astea astfel asupra au avea avem aveti azi bine ca
cand care caror carui cat cate cati catre ce cea cei cel cele celor ceva chiar cine cineva cu cum cumva
da daca dar de deci deja desi despre din dintr dintre doar dupa e ea ei el ele este eu fara fi fie fiecare
fost iar ii il imi in inainte inca intr intre isi iti la le li lor lui m ma mai mi mult multe multi ne nici
nimic niste noi nostru noua nu o ori pana pe pentru poate prin sa sau se si sunt sus ta tale te ti tot
toata toate toti tu un una unde unei unele uneori unii unor unui unul va vi voi vom vor
""".split())

_CYRILLIC_KEEP = {"\u0439": "\u0439", "\u0419": "\u0419"}  # й is a letter of its own, not и with a mark


@lru_cache(maxsize=100_000)
def fold(word):
    """Drop diacritics: "rambursări" → "rambursari", "ещё" → "еще", "façade" → "facade"; keeps "й"."""
    if word.isascii():
        return word
    out = []
    for ch in word:
        if ch in _CYRILLIC_KEEP or ch.isascii():
            out.append(ch)
            continue
        decomposed = unicodedata.normalize("NFD", ch)
        out.append("".join(c for c in decomposed if not unicodedata.combining(c)) or ch)
    return "".join(out).replace("ß", "ss")


def is_cyrillic(word):
    return "\u0400" <= word[0] <= "\u04ff"


def _tools(language, stem):
    """Stop words and cached stemmers by script: Cyrillic → Russian, anything else → `language`."""
    latin = stemmer_for_language(language) if stem and has_stemmer(language) else None
    russian = stemmer_for_language("ru") if stem else None
    return (stop_words(language) | stop_words("ru"), lru_cache(maxsize=100_000)(latin) if latin else None,
            lru_cache(maxsize=100_000)(russian) if russian else None)


@lru_cache(maxsize=None)
def stop_words(language):
    if language == "ro":
        return ROMANIAN_STOP_WORDS
    try:
        return frozenset(fold(w) for w in stopwords_for_language(language))
    except (KeyError, TypeError):
        return frozenset()


# The terms of any text, index and queries alike:
# - words and numbers (letters and digits, any script; "don't" and "v2.1" split at the apostrophe or dot),
#   a number keeping its sign ("-22", "+3") where no word or closing bracket comes before the sign, so that
#   "10-20" stays two numbers;
# - operators: runs of + - * / % = < > & | ^ ~ @ (and ! or : before =) such as "//", "**", "==", "+=",
#   "->", "!=", ":=", never from the middle of a run nor after ":" (the "//" of "https://"). Hyphens alone are
#   dashes, not operators
#   ("e-mail", "a - b", "--"), and a sign before a digit ends a run ("2**-1" is "2", "**", "-1").
# Ordinary punctuation (. , ? ! : ; ' " ( ) and the like) is never a term.
# (The leading look-ahead lets the regex engine skip spaces and punctuation quickly: the pattern costs
# 1.3× a plain \w+ scan, 2.3× without it; snippets scan every hit's answer with it.)
_OPERATOR_CHAR = r"[*/%=<>&|^~@]|[-+](?!\d)|[!:](?==)"
TOKEN_PATTERN = (r"(?=[\w+\-*/%=<>&|^~@!:])(?:\w+|(?<![\w)\]])[-+](?=\d)\w+"
                 rf"|(?<![-+*/%=<>&|^~@!:])(?!-+(?!{_OPERATOR_CHAR}))(?:{_OPERATOR_CHAR})+)")
_TOKEN = re.compile(TOKEN_PATTERN)


def tokens(text):
    """The tokens of `text` as written (what the analyzer then folds and stems), with their spans."""
    return _TOKEN.finditer(text)


def is_word(token):
    """Letters or digits, as opposed to an operator or a signed number."""
    return token[:1].isalnum() or token[:1] == "_"


class TextAnalyzer(Tokenizer):
    """Tokens → lowercase → folded → stop words out → stems, in one loop: a Whoosh generator stage per
    filter cost more than the work each does (measured: the separate stages took 30% of a rebuild)."""

    def __init__(self, language="en", stem=True):
        self.language, self.stem = language, stem
        self._stops, self._latin, self._russian = _tools(language, stem)
        self._expression = _TOKEN
        self._cached_term = lru_cache(maxsize=500_000)(self._term)

    def __getstate__(self):  # the schema (and so this analyzer) is pickled into the index
        return {"language": self.language, "stem": self.stem}

    def __setstate__(self, state):
        self.__init__(state["language"], state["stem"])

    def __eq__(self, other):
        return type(other) is type(self) and (other.language, other.stem) == (self.language, self.stem)

    def _term(self, word):
        """A word as typed → its term (None for a stop word). Cached per distinct spelling."""
        text = fold(word.lower())
        if text in self._stops:
            return None
        stemmer = self._russian if is_cyrillic(text) else self._latin
        return stemmer(text) if stemmer is not None else text

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True, start_pos=0,
                 start_char=0, tokenize=True, mode="", **kwargs):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        term = self._cached_term
        pos = start_pos
        for match in self._expression.finditer(value):
            word = match.group(0)
            text = term(word)
            if text is None:
                if removestops:
                    continue
                t.stopped, text = True, fold(word.lower())
            else:
                t.stopped = False
            t.text, t.boost = text, 1.0
            if keeporiginal:
                t.original = match.group(0)
            if positions:
                t.pos = pos
                pos += 1
            if chars:
                t.startchar, t.endchar = start_char + match.start(), start_char + match.end()
            yield t


@lru_cache(maxsize=None)
def analyzer(language="en", stem=True):
    """The analyzer for indexed text and queries: tokens → lowercase → folded → stop words out → stems."""
    return TextAnalyzer(language, stem)


def term(word, language="en"):
    """One word's term (None for a stop word), from the analyzer's per-spelling cache."""
    return analyzer(language)._cached_term(word)


def words(text, language="en", stem=True):
    """Analysed terms of `text` (for query building and title keys)."""
    return [t.text for t in analyzer(language, stem)(text)]


_PUNCTUATION = "".join(chr(c) for c in range(33, 127) if not chr(c).isalnum()) + "“”‘’«»„…–—"


def vocabulary(*texts):
    """The distinct words of `texts` as the spelling corrector offers them: folded, lowercase, letters
    only, three or more (split on white space, then trimmed: several times faster than a regex)."""
    words = {w.strip(_PUNCTUATION) for text in texts for w in text.lower().split()}
    return sorted({fold(w) for w in words if len(w) >= 3 and w.isalpha()})
