from django.apps import AppConfig


class EditingConfig(AppConfig):
    name = "editing"
    verbose_name = "圖徵編輯"
