"""Reads of imports: a job, checked against the user's membership in one step."""

from django.db.models import OuterRef, Subquery
from django.http import Http404

from boards.models import Membership
from boards.queries import ReadOnly
from imports.models import ImportJob

OWNERS_ONLY = "Only the workspace's owners can import projects into it."


def owner_membership(user, application_id: int) -> Membership:
    """The user's membership of the workspace: 404 when none, ReadOnly (403) unless an owner
    (the rule for creating projects, which an import does)."""
    membership = (
        Membership.objects.filter(user=user, application_id=application_id).select_related("application").first()
    )
    if membership is None:
        raise Http404("No such workspace.")
    if membership.role != Membership.Role.OWNER:
        raise ReadOnly(OWNERS_ONLY)
    return membership


def job_for(user, job_id: int, *, with_source: bool = False) -> ImportJob:
    """The import job, if the user owns its workspace: 404 for anyone outside it, ReadOnly (403)
    for its other members. One query; the file's text only when asked for."""
    role = Membership.objects.filter(user_id=user.pk, application_id=OuterRef("application_id")).values("role")[:1]
    jobs = ImportJob.objects.filter(pk=job_id).select_related("project", "application").annotate(role=Subquery(role))
    if not with_source:
        jobs = jobs.defer("source")
    job = jobs.first()
    if job is None or job.role is None:
        raise Http404("No such import.")
    if job.role != Membership.Role.OWNER:
        raise ReadOnly(OWNERS_ONLY)
    return job
