"""What a person shows others: a display name and an avatar colour (initials on a colour)."""

from django.conf import settings
from django.db import models

# A fixed palette: white initials on each of these pass WCAG AA (4.5:1) for normal text.
AVATAR_COLOURS = [
    ("#1d4ed8", "Blue"),
    ("#047857", "Green"),
    ("#b91c1c", "Red"),
    ("#7c3aed", "Violet"),
    ("#b45309", "Amber"),
    ("#0e7490", "Cyan"),
    ("#be185d", "Pink"),
    ("#374151", "Grey"),
]


class Profile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True)
    display_name = models.CharField(max_length=80, blank=True)
    # Empty: a colour chosen from the user id, so every avatar has one without a save.
    avatar_colour = models.CharField(max_length=7, choices=AVATAR_COLOURS, blank=True)
    # An IANA name (Europe/Paris): due times are entered and shown in it. Empty: settings.TIME_ZONE.
    time_zone = models.CharField(max_length=64, blank=True)

    def __str__(self):
        return self.display_name or self.user.get_username()
