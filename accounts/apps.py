from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "帳號、群組與機關"

    def ready(self):
        from . import directory, lockout  # noqa: F401 - directory: connects the directory's error signal

        lockout.connect()
