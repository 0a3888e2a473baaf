"""Slugs keep the readable letters of every language, the same on every machine, and always fit the slug rule."""
import sys
import types

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kb.cards import operations
from kb.cards.operations import SLUG, slugify
from kb.channels import serving
from kb.extensions import db
from kb.models import Team


@pytest.mark.parametrize("text, expected", [
    ("Când primesc banii?", "cand-primesc-banii"),
    ("Когда придёт мой заказ?", "kogda-pridet-moi-zakaz"),
    ("Straße", "strasse"),
    ("Ελληνικά", "ellenika"),
    ("注文はいつ届きますか", "zhu-wen-haitujie-kimasuka"),
    ("Ça va — très bien!", "ca-va-tres-bien"),
    ("Orders & cancellations", "orders-cancellations"),
    ("  --Hello,   World!--  ", "hello-world"),
])
def test_every_language_keeps_readable_letters(text, expected):
    assert slugify(text) == expected


@pytest.mark.parametrize("text", ["😀🎉", "", "   ", "?!…", "\u200b"])
def test_nothing_readable_gives_the_fallback(text):
    assert slugify(text) == "collection"
    assert serving.slug(text) == "card"


def test_a_long_title_is_cut_at_a_word_and_never_ends_in_a_dash():
    title = "How do I reset my password after the link expired? " * 3
    assert serving.slug(title) == "how-do-i-reset-my-password-after-the-link-expired-how-do-i"
    assert slugify(title, max_chars=20) == "how-do-i-reset-my"
    assert slugify("a" * 100) == "a" * 80  # one word longer than the limit: cut inside it


def test_the_slug_does_not_depend_on_which_transliterator_is_installed(monkeypatch):
    """The library's default prefers Unidecode when present (it spells ё "io"): kb names its backend."""
    impostor = types.ModuleType("unidecode")
    impostor.unidecode = lambda text: "impostor"
    monkeypatch.setitem(sys.modules, "unidecode", impostor)
    assert slugify("Когда придёт мой заказ?") == "kogda-pridet-moi-zakaz"


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200), max_chars=st.integers(min_value=1, max_value=120))
def test_any_text_gives_a_slug_the_slug_rule_accepts(text, max_chars):
    slug = slugify(text, fallback="collection", max_chars=max_chars)
    assert slug == "collection" or (SLUG.match(slug) and len(slug) <= max_chars), slug


@pytest.mark.parametrize("name, slug", [("Când primesc banii?", "cand-primesc-banii"),
                                        ("Когда придёт мой заказ?", "kogda-pridet-moi-zakaz"),
                                        ("🎉 Holiday season 🎉", "holiday-season")])
def test_a_collection_named_in_any_language_gets_its_slug_accepted(app, name, slug):
    with app.app_context():
        team = Team(name="Docs team")
        db.session.add(team)
        assert operations.create_collection(name=name, team=team).slug == slug


def test_a_typed_slug_that_breaks_the_rule_is_refused_with_a_readable_suggestion(app):
    with app.app_context():
        team = Team(name="Docs team")
        db.session.add(team)
        with pytest.raises(operations.InvalidCard) as exc:
            operations.create_collection(name="Când primesc banii?", team=team, slug="când-primesc")
        assert "(e.g. cand-primesc-banii)" in exc.value.errors["slug"]
