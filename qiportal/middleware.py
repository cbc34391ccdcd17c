"""German first: the UI language is German unless the user chose English with the
language switch (cookie), whatever the browser's Accept-Language says."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class GermanFirstMiddleware:
    """Drop the browser's Accept-Language so ``LocaleMiddleware`` falls back to
    ``LANGUAGE_CODE`` (de) unless the language cookie or URL says otherwise."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        return self.get_response(request)
