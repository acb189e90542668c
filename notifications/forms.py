from django import forms

from notifications.models import NotificationSettings


class SettingsForm(forms.ModelForm):
    """The user's e-mail settings: one switch, then each kind."""

    class Meta:
        model = NotificationSettings
        fields = ["email", "email_mentioned", "email_assigned", "email_commented", "email_moved"]


class WatchForm(forms.Form):
    watching = forms.TypedChoiceField(choices=[("1", "watch"), ("0", "unwatch")], coerce=lambda v: v == "1")


class PageForm(forms.Form):
    """The list's cursor: the id to continue below."""

    before = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
