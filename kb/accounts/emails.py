"""How two e-mail addresses are compared: the one rule for "is this the same person?".

Imports from spreadsheets and SSO providers bring the same address in different forms: upper case,
full-width letters, a decomposed "é", an invisible zero-width space pasted from a web page. The key is
NFKC-normalised, with format characters (Unicode category Cf) removed and case folded, so all of these
are one account.
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
