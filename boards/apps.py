from django.apps import AppConfig


class BoardsConfig(AppConfig):
    name = "boards"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.models.signals import post_delete

        from boards.live import sockets
        from boards.models import Attachment
        from boards.services.attachments import delete_files_on_commit

        sockets.connect_signals()
        # Every way an attachment goes (removed, or with its card, project or workspace) deletes its files on commit.
        post_delete.connect(delete_files_on_commit, sender=Attachment, dispatch_uid="attachment_files")
