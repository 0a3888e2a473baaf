"""Analysis: stems, folded accents, Russian and Romanian, searched with or without diacritics."""
import pytest

from kb.extensions import db
from kb.search import analysis, query


@pytest.mark.parametrize("language, text, expected", [
    ("en", "Cancelling orders; refunds processed", ["cancel", "order", "refund", "process"]),
    ("en", "Café façade naïve", ["cafe", "facad", "naiv"]),
    # Romanian: the same stems with and without diacritics (folding runs before the stemmer).
    ("ro", "Rambursări pentru comenzile anulate", ["rambursar", "comenz", "anul"]),
    ("ro", "Rambursari pentru comenzile anulate", ["rambursar", "comenz", "anul"]),
    ("ro", "țară şi ţară", ["tar", "tar"]),  # comma-below and cedilla forms both fold
    # Russian: stems whatever the Latin-script language; ё folds to е, й stays й.
    ("en", "Возврат ещё не оформлен", ["возврат", "оформл"]),
    ("en", "Возврат еще не оформлен", ["возврат", "оформл"]),
    ("en", "Заказы отменены", ["заказ", "отмен"]),
    ("en", "йогурт", ["йогурт"]),
])
def test_words(language, text, expected):
    assert analysis.words(text, language) == expected


def test_romanian_stop_words_are_our_own():
    assert analysis.words("și pentru că este", "ro") == []
    assert "pentru" in analysis.stop_words("ro")


def _card(make_team, make_user, make_collection, make_card, title, answer):
    team = make_team()
    owner = make_user("expert", teams=[team])
    return make_card(make_collection(team), owner, title=title, answer=answer)


def test_a_romanian_deployment_finds_cards_with_or_without_diacritics(make_app):
    from kb.cards import operations

    app = make_app("ro", SEARCH_LANGUAGE="ro")
    with app.app_context():
        from kb.accounts import operations as accounts

        team = accounts.create_team(name="Suport")
        owner = accounts.create_user(email="ana@example.com", name="Ana", role="expert", password="x" * 12,
                                     teams=[team])
        coll = operations.create_collection(name="Retururi", team=team)
        card = operations.create_card(collection=coll, owner=owner, verifier_team=team, author=owner,
                                      title="Cum primesc rambursarea?",
                                      answer="Rambursările se fac în 5 zile lucrătoare după ce primim coletul.")
        db.session.commit()
        for text in ("rambursări", "rambursari", "RAMBURSARE", "zile lucratoare", "coletul", "colet"):
            query._cache.clear()
            assert [h.id for h in query.search(text).hits] == [card.id], text


def test_russian_cards_are_found_by_other_word_forms_and_without_yo(app, make_team, make_user,
                                                                    make_collection, make_card):
    card = _card(make_team, make_user, make_collection, make_card, "Как отменить заказ?",
                 "Заказ можно отменить, пока он ещё не отправлен.")
    with app.app_context():
        for text in ("отмена заказа", "заказы", "еще не отправлен", "ОТМЕНИТЬ"):
            query._cache.clear()
            assert [h.id for h in query.search(text).hits] == [card.id], text


@pytest.mark.parametrize("text, expected", [
    ("Why does -22 // 10 return -3?", ["Why", "does", "-22", "//", "10", "return", "-3"]),
    ("x+=1; a->b, 2**-1, a != b, y := 2", ["x", "+=", "1", "a", "->", "b", "2", "**", "-1", "a", "!=", "b", "y", ":=",
                                            "2"]),
    ("e-mail, well-known, a - b -- c, 10-20", ["e", "mail", "well", "known", "a", "b", "c", "10", "20"]),
    ("see https://example.com/a for 10% off (-5)", ["see", "https", "example", "com", "/", "a", "for", "10", "%", "off",
                                                    "-5"]),
    ("Really?! Yes: (maybe); 'ok' \"no\".", ["Really", "Yes", "maybe", "ok", "no"]),
    ("C++ and C#", ["C", "++", "and", "C"]),
])
def test_operators_and_signed_numbers_are_tokens_and_punctuation_is_not(text, expected):
    assert [m.group() for m in analysis.tokens(text)] == expected


def test_operators_are_terms_of_their_own_and_never_stemmed():
    assert analysis.words("Why does -22 // 10 return -3?") == ["-22", "//", "10", "return", "-3"]
    assert analysis.words("2 ** 3 == 8") == ["2", "**", "3", "==", "8"]


def test_searchable_text_keeps_the_operators_of_code():
    from kb import markup
    from kb.search import index

    answer = "Write `2 ** 10` or **bold** *text*:\n\n```python\nx = a // b\n```\n\n- item"
    assert index.plain(answer) == "Write 2 ** 10 or bold text: x = a // b item"
    assert "**" not in markup.strip_markdown(answer)  # what the plain Markdown stripper alone would lose
