import pytest
from django.urls import reverse

from tests.support.factories import HelpArticleFactory

pytestmark = pytest.mark.django_db


def test_help_pages_are_searchable_and_hide_drafts(client):
    HelpArticleFactory(question="How do I return an item?", answer="Open the order page.")
    HelpArticleFactory(question="Do you ship to China?", answer="Yes.")
    HelpArticleFactory(question="Return draft", is_published=False)

    page = client.get(reverse("support:help"), {"q": "return"})

    assert "How do I return an item?" in page.text
    assert "Do you ship to China?" not in page.text
    assert "Return draft" not in page.text


def test_the_footer_and_the_ticket_form_link_to_help(client):
    help_url = reverse("support:help")

    assert f'href="{help_url}"' in client.get(reverse("catalog:home")).text
    ticket_form = client.get(reverse("support:ticket_new"))
    assert ticket_form.status_code == 200
    assert f'href="{help_url}"' in ticket_form.text.split("<footer")[0]
