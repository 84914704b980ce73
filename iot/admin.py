from django.contrib import admin

from .models import Alert, Device, Quantity, RejectCount, Threshold
from .tokens import new_token


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ("device_id", "name", "layer", "feature_fid", "harvested_from", "active", "created_at")
    list_filter = ("harvested_from",)
    search_fields = ("device_id", "name")
    readonly_fields = ("harvested_from", "remote_id")  # set by iot.harvest only
    exclude = ("token_hash",)  # tokens are issued, never typed in

    def save_model(self, request, obj, form, change):
        if not obj.token_hash:
            token, obj.token_hash = new_token()
            self.message_user(request, f"{obj.device_id} 的裝置金鑰（只顯示這一次）/ device token, shown once: {token}")
        super().save_model(request, obj, form, change)


@admin.register(Threshold)
class ThresholdAdmin(admin.ModelAdmin):
    list_display = ("quantity", "device", "above", "label")


admin.site.register(Quantity)
admin.site.register(Alert)
admin.site.register(RejectCount)
