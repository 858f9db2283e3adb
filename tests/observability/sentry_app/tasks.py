from celery import shared_task

FAILING_TASK = "sentry_app.fail_on_purpose"


class TaskFailedOnPurpose(RuntimeError):
    pass


@shared_task(name=FAILING_TASK)
def fail_on_purpose() -> None:
    raise TaskFailedOnPurpose("a task failed on purpose for the Sentry test")
