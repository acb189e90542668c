"""Log-in by username or by e-mail address."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

User = get_user_model()

# What login() is told after creating an account (with several backends configured it must be named).
BACKEND = "accounts.backends.UsernameOrEmailBackend"


class UsernameOrEmailBackend(ModelBackend):
    """A username first (exact, as Django stores it); failing that, an e-mail address matched
    case-insensitively, but only when exactly one account has it: two accounts sharing an
    address (made in the admin, say) log in by username, since the address cannot say which."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(User.USERNAME_FIELD)
        if username is None or password is None:
            return None
        user = self.find_user(username)
        if user is None:
            # Hash anyway, so an unknown name takes as long as a wrong password (as ModelBackend does).
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None

    @staticmethod
    def find_user(identifier: str):
        """The account this username or (unshared) e-mail address names, or None."""
        try:
            return User._default_manager.get_by_natural_key(identifier)
        except User.DoesNotExist:
            pass
        address = identifier.strip()
        if "@" not in address:
            return None
        matches = list(User._default_manager.filter(email__iexact=address)[:2])
        return matches[0] if len(matches) == 1 else None

    def get_user(self, user_id):
        """The request's user with their profile in the same query: every page shows their name."""
        try:
            user = User._default_manager.select_related("profile").get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
