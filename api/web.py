"""The "API tokens" page, linked from the profile: list, create (the secret shown once), revoke.
Here and not in accounts, which knows nothing of boards (import-linter)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from api import forms, services
from api.models import ApiToken


def _page(request, form, *, created=None, secret: str = "", status: int = 200) -> HttpResponse:
    tokens = list(ApiToken.objects.filter(user=request.user).order_by("-created_at", "-pk"))
    context = {"form": form, "tokens": tokens, "created": created, "secret": secret}
    return render(request, "api/tokens.html", context, status=status)


@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    """GET: the user's tokens. POST: a new one, its full text on this answer only."""
    if request.method == "GET":
        return _page(request, forms.TokenForm())
    form = forms.TokenForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=422)
    data = form.cleaned_data
    try:
        token, secret = services.create_token(
            user=request.user, name=data["name"], scope=data["scope"], expires_at=data["expires"]
        )
    except ValidationError as error:
        form.add_error(None, error)
        return _page(request, form, status=422)
    # No redirect: the secret is never stored, so this page is the only place it is shown.
    response = _page(request, forms.TokenForm(), created=token, secret=secret)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def token_revoke(request: HttpRequest) -> HttpResponse:
    form = forms.RevokeForm(request.POST)
    if not form.is_valid():
        raise Http404("No such token.")
    try:
        token = services.revoke_token(user=request.user, token_id=form.cleaned_data["token"])
    except ApiToken.DoesNotExist:
        raise Http404("No such token.") from None
    messages.success(request, f"Revoked the token “{token.name}”: it no longer works.")
    response = redirect("api_tokens")
    response.status_code = 303
    return response
