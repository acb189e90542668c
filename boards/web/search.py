"""Finding cards: the permanent URL of a card (/<KEY>-<n>/) and the top bar's search."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from boards import forms, search


@require_GET
@login_required
def card_by_key(request, key: str) -> HttpResponse:
    """KEY-n among the user's projects: 302 to the card (or to where a moved card went); a short
    choice when workspaces share the key; 404 when no project of theirs has such a card."""
    parsed = search.parse_key(key)
    if parsed is None:
        raise Http404("No such card.")
    cards = search.cards_by_key(request.user, *parsed)
    if not cards:
        raise Http404("No such card.")
    if len(cards) == 1:
        return redirect(cards[0])
    return render(request, "boards/key_choice.html", {"key": key.upper(), "cards": cards})


@require_GET
@login_required
def search_page(request) -> HttpResponse:
    form = forms.SearchForm(request.GET)
    if not form.is_valid():
        context = {"q": request.GET.get("q", "")[:200].replace("\x00", ""), "error": form.error_text()}
        return render(request, "boards/search.html", context, status=400)
    text = form.cleaned_data["q"].strip()
    context = {"q": text, "search_q": text, "results": None}
    if text:
        context["results"] = search.search_cards(request.user, text, page=form.cleaned_data["page"] or 1)
    return render(request, "boards/search.html", context)
