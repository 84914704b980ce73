from django.contrib import admin

from .models import Account, Agency


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ["group", "name_en", "code"]
    search_fields = ["group__name", "name_en", "code"]


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["user", "source", "agency", "synced_at"]
    list_filter = ["source", "agency"]
    search_fields = ["user__username", "external_id"]
