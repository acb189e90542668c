"""The workspace's own history: one row per change to its members, invitations and projects."""

from boards.models import Application, WorkspaceEvent


def record(
    application: Application,
    kind: WorkspaceEvent.Kind,
    actor,
    *,
    subject_user=None,
    subject_name: str = "",
    **data,
) -> WorkspaceEvent:
    """Append one event, in the caller's transaction (a rolled-back change leaves none).

    `subject_name` keeps what the member or project was called, for when it is gone."""
    if subject_user is not None and not subject_name:
        subject_name = subject_user.get_username()
    return WorkspaceEvent.objects.create(
        application=application,
        application_name=application.name,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        kind=kind,
        subject_user=subject_user,
        subject_name=subject_name[:200],
        data=data,
    )
