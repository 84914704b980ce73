from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "帳號、群組與機關"

    def ready(self):
        from . import directory  # noqa: F401 - connects the directory's error signal
