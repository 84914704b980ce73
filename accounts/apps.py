from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "帳號、群組與機關"

    def ready(self):
        from . import directory, lockout, rights_changes  # noqa: F401 - directory: connects the directory's error signal

        lockout.connect()
        rights_changes.connect()  # live-edit streams and the read router hear of rights changes
