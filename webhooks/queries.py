"""Reads of the webhook pages."""

from django.http import Http404

from boards.models import Project
from webhooks.models import Delivery, Webhook

DELIVERY_PAGE_SIZE = 25


def webhooks_of(project: Project) -> list[Webhook]:
    return list(Webhook.objects.filter(project=project).order_by("pk"))


def get_webhook(project: Project, webhook_id: int) -> Webhook:
    """The project's webhook; 404 for any other (another project's or workspace's included)."""
    webhook = Webhook.objects.filter(pk=webhook_id, project=project).first()
    if webhook is None:
        raise Http404("No such webhook.")
    webhook.project = project
    return webhook


def deliveries_of(webhook: Webhook):
    """The webhook's deliveries, newest first (for a Paginator)."""
    return Delivery.objects.filter(webhook=webhook).prefetch_related("attempt_log").order_by("-pk")
