"""Answers every app may give: where to send a shopper back to after a form."""

from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request, fallback, *, field="next"):
    """Redirect to the page the form names in `field` when it is a path on this site.

    Anything else (another host, a scheme, a bare word) goes to `fallback`, a URL name. What
    the shopper sent is only ever used as a URL, never looked up as a URL name, so a made-up
    value can't turn into an error.
    """
    target = request.POST.get(field) or request.GET.get(field, "")
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return HttpResponseRedirect(target)
    return redirect(fallback)
