"""People's own pages: sign-up, profile, password change, log-out.

Every page is a plain form with its CSRF token: it works without JavaScript. Password reset is
Django's own views, given our templates in accounts/urls.py.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from accounts import backends, people, services
from accounts.forms import ProfileForm, SignUpForm


def _safe_next(request: HttpRequest) -> str:
    """The `next` address when it is a path on this site, else ""."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if safe else ""


def _go_on(request: HttpRequest) -> HttpResponseRedirect:
    """To the safe `next` address, else home. Never a URL name read from the request."""
    return HttpResponseRedirect(_safe_next(request) or resolve_url(settings.LOGIN_REDIRECT_URL))


@login_not_required
@sensitive_post_parameters("password1", "password2")
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """Open mode: a new account, logged in at once. Invitation or closed mode: says how to get in."""
    if request.user.is_authenticated:
        return _go_on(request)
    mode = settings.SIGNUP_MODE
    if mode != "open":
        status = 403 if request.method == "POST" else 200
        return render(request, "accounts/signup.html", {"mode": mode}, status=status)
    form = SignUpForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            user = services.create_account(**form.account_data())
        except ValidationError as error:
            form.add_error(None, error)
        else:
            login(request, user, backend=backends.BACKEND)
            return _go_on(request)
    status = 422 if form.is_bound else 200
    return render(
        request, "accounts/signup.html", {"mode": mode, "form": form, "next": _safe_next(request)}, status=status
    )


@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    """Your display name, e-mail address and avatar colour."""
    user = request.user
    current = people.profile_of(user)
    initial = {
        "display_name": current.display_name if current else "",
        "email": user.email,
        "avatar_colour": current.avatar_colour if current else "",
        "time_zone": current.time_zone if current else "",
    }
    form = ProfileForm(request.POST if request.method == "POST" else None, user=user, initial=initial)
    if form.is_valid():
        services.update_profile(user=user, **form.cleaned_data)
        messages.success(request, "Your profile is saved.")
        return redirect("profile")
    status = 422 if form.is_bound else 200
    context = {"form": form, "avatar": people.avatar(user), "display_name": people.display_name(user)}
    return render(request, "accounts/profile.html", context, status=status)


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's, in the site's page, back to the profile with a message (the session stays logged in)."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("profile")

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, "Your password is changed.")
        return response


@method_decorator(login_not_required, name="dispatch")
class LogoutView(auth_views.LogoutView):
    """Log-out by POST only (a link or a prefetch must not log anyone out). A GET answers
    405 with a page holding the log-out button, for whoever typed the address."""

    def http_method_not_allowed(self, request, *args, **kwargs):
        response = render(request, "accounts/logout.html", status=405)
        response["Allow"] = "POST, OPTIONS"
        return response
