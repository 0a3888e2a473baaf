"""Markdown is sanitised before it is rendered: nothing that runs script survives, on any page."""
import pytest

from kb.markup import linked_cards, render

HOSTILE = [
    "<script>alert(1)</script>",
    '<img src="x" onerror="alert(1)">',
    '<a href="javascript:alert(1)">x</a>',
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](  javascript:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](vbscript:msgbox(1))",
    '<div onclick="alert(1)">x</div>',
    "<svg onload=alert(1)></svg>",
    '<iframe src="https://example.com"></iframe>',
    '<style>body{display:none}</style>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<object data="x"></object><embed src="x">',
    '<form action="https://evil.example.org"><input name="p"></form>',
]


@pytest.mark.parametrize("text", HOSTILE)
def test_nothing_that_runs_script_survives(text):
    html = str(render(text)).lower()
    for needle in ("<script", "onerror", "onclick", "onload", "javascript:", "vbscript:", "data:text", "<iframe",
                   "<style", "<object", "<embed", "<form", "<input", "<svg"):
        assert needle not in html, (text, html)


def test_ordinary_markdown_renders():
    text = "**Yes.** See [returns](https://www.example.com/returns) or [card](/cards/by-key/x).\n\n- a\n- b"
    html = str(render(text))
    assert "<strong>Yes.</strong>" in html and "<li>a</li>" in html
    assert 'href="https://www.example.com/returns"' in html and 'href="/cards/by-key/x"' in html
    assert 'rel="noopener noreferrer"' in html


def test_linked_cards_are_found_by_id_and_key():
    ids, keys = linked_cards("[a](/cards/12) [b](/cards/by-key/return-window) [c](https://kb.example.com/cards/7#x) "
                             "[d](/collections/orders)")
    assert ids == {12, 7} and keys == {"return-window"}


def test_card_page_shows_hostile_content_inert(app, world, auth, client):
    from kb.cards import operations
    from kb.extensions import db
    from kb.models import Card, User

    with app.app_context():
        card = db.session.get(Card, world["billing_card"].id)
        operations.edit_card(card, author=db.session.get(User, world["expert"].id),
                             title="<script>alert('t')</script>", answer=HOSTILE[1], internal_notes=HOSTILE[3])
        db.session.commit()
    auth.login("agent@example.com")
    page = client.get(f"/cards/{world['billing_card'].id}").get_data(as_text=True)
    assert "<script>alert" not in page and "onerror" not in page and "javascript:" not in page
    assert "&lt;script&gt;alert" in page  # the title is shown as text
    csp = client.get(f"/cards/{world['billing_card'].id}").headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
