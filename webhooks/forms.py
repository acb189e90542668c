"""The owners' webhook settings, validated before any service sees them."""

import ipaddress
from urllib.parse import quote, urlsplit, urlunsplit

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from boards.forms import StrictForm
from webhooks.models import ALL_EVENTS, EVENT_CHOICES
from webhooks.sending import why_not_public

URL_MAX = 2000


# What a URL's path and query keep as they are; anything else that is not ASCII is percent-encoded.
_URL_SAFE = "/?=&%:@!$'()*+,;~-._"


def _ascii(parts):
    """The URL as the wire carries it: an IDN host in punycode, a non-ASCII path percent-encoded.

    Stored so, a delivery never meets a name or a path that http.client cannot send.
    """
    host = parts.hostname
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as error:
            raise ValidationError("That host name is not valid.") from error
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return parts._replace(
        netloc=netloc, path=quote(parts.path, safe=_URL_SAFE), query=quote(parts.query, safe=_URL_SAFE)
    )


class WebhookForm(StrictForm):
    url = forms.CharField(
        max_length=URL_MAX,
        error_messages={"required": "Give the URL to send events to.", "max_length": "That URL is too long."},
    )
    events = forms.MultipleChoiceField(
        choices=EVENT_CHOICES,
        error_messages={"required": "Choose at least one kind of event.", "invalid_choice": "That is not an event."},
    )

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        if any(ord(char) <= 32 or ord(char) == 127 for char in url):
            raise ValidationError("A URL has no spaces or control characters.")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as error:
            raise ValidationError("That is not a valid URL.") from error
        if parts.scheme not in ("http", "https"):
            raise ValidationError("The URL must start with http:// or https://.")
        if not parts.hostname:
            raise ValidationError("The URL needs a host name.")
        if parts.username is not None or parts.password is not None or "@" in parts.netloc:
            raise ValidationError("Leave credentials out of the URL: receivers check the signature instead.")
        if port == 0:
            raise ValidationError("That is not a valid port.")
        if parts.fragment:
            raise ValidationError("A webhook URL has no #fragment.")
        parts = _ascii(parts)
        try:
            literal = ipaddress.ip_address(parts.hostname)
        except ValueError:
            literal = None
        # Said now for an address written out; names are checked at every delivery (they may change).
        if literal is not None and not settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS:
            reason = why_not_public(literal)
            if reason:
                raise ValidationError(f"Webhooks reach only public addresses: {reason}.")
        url = urlunsplit(parts)
        if len(url) > URL_MAX:
            raise ValidationError("That URL is too long.")
        return url

    def clean_events(self) -> list[str]:
        events = self.cleaned_data["events"]
        return [ALL_EVENTS] if ALL_EVENTS in events else sorted(set(events))
