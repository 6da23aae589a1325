"""Staff second factor: a staff account without TOTP is sent to set it up before anything else.

A staff session reaches customers' orders, tickets and money, so with STAFF_REQUIRE_MFA on it
is good for nothing but setting up an authenticator until it has one: every page answers with a
redirect to allauth's TOTP activation. What setting it up needs stays reachable: allauth's own
pages (sign in and out, reauthentication, MFA setup, email confirmation), admin's sign out,
static and media files, switching language and the health check.
"""

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext as _

REACHABLE_MODULES = ("allauth.", "django.views.static", "django.views.i18n", "shop.health")


def _reachable(request, view_func):
    if view_func.__module__.startswith(REACHABLE_MODULES):
        return True
    match = request.resolver_match
    return match is not None and match.view_name == "admin:logout"


def has_totp(user):
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


class StaffMFAMiddleware:
    """Redirect a signed-in staff member without TOTP to its setup page (STAFF_REQUIRE_MFA)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = request.user
        if not (settings.STAFF_REQUIRE_MFA and user.is_authenticated and user.is_staff):
            return None
        if _reachable(request, view_func) or has_totp(user):
            return None
        messages.warning(
            request,
            _("Staff accounts sign in with a second factor: set up an authenticator app first."),
        )
        return redirect("mfa_activate_totp")
