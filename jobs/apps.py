from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"

    def ready(self):
        from boards.signals import events_recorded
        from jobs import receivers

        events_recorded.connect(receivers.queue_fan_out, dispatch_uid="jobs.queue_fan_out")
