import pytest

from webhooks.forms import URL_MAX, WebhookForm


def errors(url, events=("all",)):
    form = WebhookForm({"url": url, "events": list(events)})
    form.is_valid()
    return form.errors


class TestURL:
    @pytest.mark.parametrize(
        ("url", "message"),
        [
            ("", "Give the URL"),
            ("ftp://example.com/hook", "http:// or https://"),
            ("javascript:alert(1)", "http:// or https://"),
            ("example.com/hook", "http:// or https://"),
            ("http:///hook", "needs a host"),
            ("http://user:secret@example.com/hook", "credentials"),
            ("https://token@example.com/hook", "credentials"),
            ("http://example.com:99999/", "not a valid URL"),
            ("http://example.com:0/", "not a valid port"),
            ("http://exa mple.com/", "no spaces"),
            ("http://example.com/\x00", "Null characters"),
            ("http://example.com/\x7f", "control characters"),
            ("http://example.com/#frag", "no #fragment"),
            ("http://[::1/", "not a valid URL"),
            ("https://example.com/" + "a" * URL_MAX, "too long"),
            ("http://127.0.0.1:8000/", "loopback"),
            ("http://[::1]/", "loopback"),
            ("http://10.0.0.1/", "private"),
            ("http://169.254.169.254/", "link-local"),
            ("http://[::ffff:192.168.0.1]/", "private"),
        ],
    )
    def test_refused(self, url, message):
        assert message in " ".join(errors(url).get("url", []))

    @pytest.mark.parametrize(
        "url",
        ["https://example.com/hooks/tasktrack", "http://hooks.example.org:8080/in?project=web", "https://1.1.1.1/"],
    )
    def test_accepted(self, url):
        assert errors(url) == {}

    @pytest.mark.parametrize(
        ("url", "stored"),
        [
            ("https://bücher.example/hook", "https://xn--bcher-kva.example/hook"),
            ("https://BÜCHER.example:8443/in", "https://xn--bcher-kva.example:8443/in"),
            ("https://example.com/haken/ä?projekt=ü", "https://example.com/haken/%C3%A4?projekt=%C3%BC"),
            ("https://example.com/a%20b?x=1&y=2", "https://example.com/a%20b?x=1&y=2"),
            ("http://[2606:4700::1111]:8080/hook", "http://[2606:4700::1111]:8080/hook"),
        ],
    )
    def test_a_url_is_stored_as_the_wire_carries_it(self, url, stored):
        form = WebhookForm({"url": url, "events": ["all"]})
        assert form.is_valid(), form.errors
        assert form.cleaned_data["url"] == stored
        assert stored.isascii()

    def test_a_host_name_idna_cannot_encode_is_refused(self):
        assert "host name is not valid" in " ".join(errors("https://exämple..com/").get("url", []))

    def test_private_addresses_are_accepted_when_the_instance_allows_them(self, settings):
        settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True
        assert errors("http://10.0.0.1/hook") == {}

    def test_the_url_is_given_once(self):
        from django.http import QueryDict

        data = QueryDict("url=https://a.example/&url=https://b.example/&events=all")
        form = WebhookForm(data)
        assert not form.is_valid() and "Give this value once." in form.errors["url"]


class TestEvents:
    def test_at_least_one(self):
        assert "Choose at least one" in errors("https://example.com/", events=())["events"][0]

    def test_only_known_kinds(self):
        assert "That is not an event." in errors("https://example.com/", events=["created", "exploded"])["events"][0]

    def test_all_wins_over_a_list(self):
        form = WebhookForm({"url": "https://example.com/", "events": ["moved", "all"]})
        assert form.is_valid() and form.cleaned_data["events"] == ["all"]

    def test_kinds_are_kept_once_and_sorted(self):
        form = WebhookForm({"url": "https://example.com/", "events": ["moved", "created", "moved"]})
        assert form.is_valid() and form.cleaned_data["events"] == ["created", "moved"]
