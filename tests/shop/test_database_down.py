"""A request that fails on an unreachable database gets the short 503 page, not a 500."""

from django.core.handlers.exception import convert_exception_to_response
from django.db import OperationalError
from django.http import HttpResponse
from django.test import RequestFactory

from shop.database_down import DatabaseDownMiddleware


def serve(view):
    """The request through the middleware, with `view` behind it as Django chains them: an
    error behind the middleware reaches it as a 500 already."""
    middleware = DatabaseDownMiddleware(convert_exception_to_response(view))
    return middleware(RequestFactory().get("/products/"))


def unreachable(request):
    raise OperationalError('connection to server at "127.0.0.1", port 5432 failed')


def test_a_view_failing_on_the_database_gets_the_503_page():
    middleware = DatabaseDownMiddleware(lambda request: HttpResponse())
    request = RequestFactory().get("/products/")
    error = OperationalError("server closed the connection unexpectedly")
    response = middleware.process_exception(request, error)
    page = response.content.decode()
    assert response.status_code == 503 and response["Retry-After"] == "10"
    assert "back in a moment" in page and "server closed" not in page


def test_an_inner_middleware_failing_on_the_database_gets_the_503_page():
    response = serve(unreachable)
    assert response.status_code == 503
    assert "back in a moment" in response.content.decode()


def test_other_errors_are_not_taken_for_an_outage():
    def broken(request):
        raise ValueError("a bug")

    assert serve(broken).status_code == 500
    middleware = DatabaseDownMiddleware(lambda request: HttpResponse())
    assert middleware.process_exception(RequestFactory().get("/"), ValueError()) is None
