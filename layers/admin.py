from django.contrib.gis import admin

from .models import Layer, LayerVersion, Style, Theme


@admin.register(Theme)
class ThemeAdmin(admin.ModelAdmin):
    list_display = ["__str__", "slug", "order"]


class StyleInline(admin.StackedInline):
    model = Style
    extra = 0


@admin.register(Layer)
class LayerAdmin(admin.GISModelAdmin):
    list_display = ["slug", "title_zh", "kind", "geometry_type", "feature_count", "theme", "visibility",
                    "owner_agency", "updated_at"]
    list_filter = ["kind", "visibility", "theme", "owner_agency"]
    search_fields = ["slug", "title_zh", "title_en", "abstract"]
    inlines = [StyleInline]
    readonly_fields = ["table_name", "raster_path", "feature_count", "current_version"]


@admin.register(LayerVersion)
class LayerVersionAdmin(admin.ModelAdmin):
    list_display = ["layer", "number", "feature_count", "source_name", "created_by", "created_at"]
