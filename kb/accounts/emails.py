"""How two e-mail addresses are compared: the one rule for "is this the same person?".

Imports from spreadsheets and SSO providers bring the same address in different forms: upper case,
full-width letters, a decomposed "é", an invisible zero-width space pasted from a web page. The key is
NFKC-normalised, with format characters (Unicode category Cf) removed and case folded, so all of these
are one account.

A look-alike is another matter: "jоsé@" with a Cyrillic "о" normalises to itself, not to "josé@". Nobody
types one label in two alphabets, so `script_problem` refuses a local part or domain label that mixes Latin,
Cyrillic and Greek letters (an all-Cyrillic IDNA domain such as "пример.рф" is fine).
"""
import unicodedata


def email_key(address):
    text = unicodedata.normalize("NFKC", address or "")
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return unicodedata.normalize("NFKC", text.casefold()).strip()


def clean_email(address):
    """The address as stored and shown: normalised like the key, but not case-folded beyond lower()."""
    text = unicodedata.normalize("NFKC", address or "")
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf").strip().lower()


SCRIPTS = ("LATIN", "CYRILLIC", "GREEK")  # the alphabets whose letters stand in for one another


def _script(char):
    """LATIN, CYRILLIC or GREEK for a letter of those alphabets, else None (digits, dots, other scripts)."""
    if not char.isalpha():
        return None
    word = unicodedata.name(char, "").split(" ", 1)[0]
    return word if word in SCRIPTS else None


def _unicode_label(label):
    """A domain label as its reader sees it: "xn--exmple-4nf" is "exаmple" (with a Cyrillic "а")."""
    if not label.startswith("xn--"):
        return label
    try:
        return label.encode("ascii").decode("idna")
    except UnicodeError:
        return label  # not valid punycode: the address fails elsewhere, or is plain ASCII


def script_problem(address):
    """Why an address is a likely look-alike (one label in two alphabets, punycode decoded), or None."""
    local, _, domain = (address or "").rpartition("@")
    for label in [local, *map(_unicode_label, domain.split("."))]:
        first = {}
        for char in label:
            script = _script(char)
            if script is not None:
                first.setdefault(script, char)
        if len(first) > 1:
            names = sorted(first, key=SCRIPTS.index)
            odd = first[names[1]]
            return (f"mixes {names[0].title()} and {names[1].title()} letters ({odd} U+{ord(odd):04X}): "
                    "type it again in one script")
    return None
