"""Test data. Projects are made through the service, so they get columns and a counts row."""

import factory
from django.contrib.auth import get_user_model

from boards import services
from boards.models import Application, Membership, Project


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Sequence(lambda n: f"User {n}")
    password = factory.PostGenerationMethodCall("set_password", "secret-pass")

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save(update_fields=["password"])


class ApplicationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Application

    name = factory.Sequence(lambda n: f"Workspace {n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    application = factory.SubFactory(ApplicationFactory)
    user = factory.SubFactory(UserFactory)
    role = Membership.Role.EDITOR


_keys = iter(range(1, 10**9))


def make_project(application=None, *, name="Project", key=None) -> Project:
    application = application or ApplicationFactory()
    return services.create_project(application=application, name=name, key=key or f"P{next(_keys)}")
