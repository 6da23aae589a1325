"""The input guard: text PostgreSQL can't store is refused before any view or query sees it.

PostgreSQL refuses a NUL character in text, and a lone surrogate can't even be encoded to
send; either would surface as a 500 in whichever view passed it on. Rather than each view
checking, every request's path, query string and form fields are checked here once: a path
that can't be stored names nothing (404), a parameter or field is a bad request (400), both
with the shop's usual error pages. Uploaded files are bytes, not text, and are not checked.
"""

from importlib import import_module

from django.conf import settings
from django.http import Http404, QueryDict
from django.shortcuts import render


def storable(text):
    """Whether PostgreSQL can store the text: no NUL, and encodable as UTF-8."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def all_storable(query_dict):
    """Whether every name and value of a QueryDict (request.GET, request.POST) is storable."""
    return all(
        storable(name) and all(storable(value) for value in values)
        for name, values in query_dict.lists()
    )


class InputGuardMiddleware:
    """Refuse unstorable text in the path, query string and form fields; drop such a session.

    The session cookie is looked at first, before anything reads the session: one that can't
    be stored is no session, so the visitor gets a fresh one and the bad cookie is cleared,
    rather than being refused on every page until they clear it themselves. The rest is
    checked just before the view runs, once every middleware has set the request up, so the
    error pages draw the header as on any other page.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not storable(request.COOKIES.get(settings.SESSION_COOKIE_NAME, "")):
            request.session = import_module(settings.SESSION_ENGINE).SessionStore()
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not storable(request.path_info):
            raise Http404
        # Views exempt from CSRF (the Stripe webhook) read the raw body themselves; parsing it
        # here as a form would consume the stream they read.
        form_checked = request.method == "POST" and not getattr(view_func, "csrf_exempt", False)
        if not all_storable(request.GET) or (form_checked and not all_storable(request.POST)):
            # The page must not echo what it refuses (the header repeats the search query).
            request.GET, request.POST = QueryDict(), QueryDict()
            return render(request, "400.html", status=400)
        return None
