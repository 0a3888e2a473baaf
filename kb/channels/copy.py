"""What an agent copies into a chat: the words the chatbot and the FAQ serve, never a pending edit.

"Copy answer" (as-you-type, results, card page) takes the card's verified revision, rendered as the
customer channels render it: links to other cards become the linked card's FAQ address when the FAQ
serves it, and its words alone otherwise (the agent is told which links were internal before copying).
A draft has no served wording: its text can be copied as a draft only, after a confirmation.
"""
from dataclasses import dataclass, field

from kb import markup
from kb.channels import faq, serving


@dataclass
class Copy:
    card_id: int
    title: str
    text: str  # chat-ready plain text, `{placeholders}` still in it for the agent to fill
    revision: int
    is_draft: bool = False
    placeholders: list = field(default_factory=list)
    internal_links: list = field(default_factory=list)  # words of links to cards customers cannot open

    def as_json(self):
        return {"id": self.card_id, "title": self.title, "text": self.text, "revision": self.revision,
                "draft": self.is_draft, "placeholders": self.placeholders, "internal_links": self.internal_links}


def for_agent(card):
    """The text "Copy answer" puts on the clipboard for `card`."""
    served = serving.serve(card, serving.AGENTS)
    revision = served.revision or served.pending
    html, internal = faq.customer_answer(revision)
    return Copy(card_id=card.id, title=revision.title, text=markup.text_of_html(html), revision=revision.number,
                is_draft=served.is_draft, placeholders=markup.placeholders(revision.answer),
                internal_links=internal)
