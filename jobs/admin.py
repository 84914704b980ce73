from django.contrib import admin

from .models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["pk", "kind", "source_name", "status", "progress", "created_by", "created_at", "finished_at"]
    list_filter = ["kind", "status"]
