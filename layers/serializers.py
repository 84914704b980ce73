import re

from django.contrib.auth.models import Group
from django.utils.translation import get_language
from rest_framework import serializers

from accounts import rights
from geo import messages

from . import attribute_kinds, catalog, integrity, metadata, timeaxis
from .models import Layer, LayerVersion, Style, Theme
from .styles import MAX_CLASSES, RAMPS, StyleError, attribute_of, compute_classes, keep_edits


class ThemeSerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="slug", queryset=Theme.objects.all(), allow_null=True,
                                          required=False)
    path = serializers.SerializerMethodField()

    class Meta:
        model = Theme
        fields = ["slug", "name_zh", "name_en", "parent", "order", "path"]

    def get_path(self, theme) -> list[str]:
        return [t.name_zh for t in theme.ancestry()]


class SkippingBrokenListSerializer(serializers.ListSerializer):
    """A list in which a layer that cannot be represented is left out (and logged), not the whole list lost."""

    def to_representation(self, data):
        items = data.all() if hasattr(data, "all") else data
        out = []
        for item in items:
            try:
                out.append(self.child.to_representation(item))
            except Exception:  # noqa: BLE001 - one broken catalog row must not fail the list for everyone
                integrity.log.exception("layer %s: cannot be listed; left out", getattr(item, "slug", item))
        return out


class LayerSerializer(serializers.ModelSerializer):
    """A catalog entry as listed and searched."""

    theme = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    theme_path = serializers.SerializerMethodField()
    owner_agency = serializers.SlugRelatedField(slug_field="name", read_only=True)
    bbox = serializers.SerializerMethodField(help_text="lon/lat bounding box: [west, south, east, north]")
    version = serializers.SerializerMethodField()

    class Meta:
        model = Layer
        fields = ["slug", "title_zh", "title_en", "kind", "geometry_type", "feature_count", "theme", "theme_path",
                  "visibility", "owner_agency", "bbox", "version", "updated_at"]
        list_serializer_class = SkippingBrokenListSerializer

    def get_theme_path(self, layer) -> list[str]:
        """The theme's path in the request's language (an English name where the theme has one)."""
        english = not (get_language() or "zh").startswith("zh")
        return [(t.name_en if english and t.name_en else t.name_zh) for t in layer.theme.ancestry()] \
            if layer.theme else []

    def get_bbox(self, layer) -> list[float] | None:
        return integrity.lonlat_bbox(layer, 7)

    def get_version(self, layer) -> int | None:
        return layer.current_version.number if layer.current_version else None


COLOUR = re.compile(r"^#[0-9a-fA-F]{6}([0-9a-fA-F]{2})?$")
COLOUR_FIELDS = ("fill_color", "stroke_color", "label_color", "label_halo_color")
# sensible bounds of the numbers a style holds (beyond them a map is unreadable or MapServer refuses the value)
NUMBER_RANGES = {"stroke_width": (0, 20), "opacity": (0, 1), "point_size": (1, 64), "label_size": (6, 48),
                 "label_halo_width": (0, 10), "class_count": (2, MAX_CLASSES)}
SCALE_PAIRS = (("min_scale", "max_scale"), ("label_min_scale", "label_max_scale"))


def check_colour(value, field: str) -> str:
    if not isinstance(value, str) or not COLOUR.match(value):
        raise serializers.ValidationError({field: messages.worded(
            "{value} 不是顏色；請用 #RRGGBB 十六進位色碼，例如 #3388ff", value=repr(value))})
    return value


class StyleClassSerializer(serializers.Serializer):
    """What an editor may set on one computed class: its colour and (lines) width; which class it is."""

    color = serializers.CharField(required=False)
    width = serializers.FloatField(required=False, min_value=0, max_value=20)
    value = serializers.JSONField(required=False)
    other = serializers.BooleanField(required=False)
    no_data = serializers.BooleanField(required=False)

    def validate_color(self, value):
        return check_colour(value, "color")


class StyleSerializer(serializers.ModelSerializer):
    """A layer's style. Classes are computed from the data on every save (or dry run); colours and widths set on
    classes are kept where the class is still there (layers.styles.keep_edits)."""

    classes = StyleClassSerializer(many=True, required=False)

    class Meta:
        model = Style
        exclude = ["id", "layer"]
        read_only_fields = ["updated_at"]

    def to_representation(self, instance):
        out = super().to_representation(instance)
        out["classes"] = instance.classes  # as computed (labels, bounds, counts), not only the editable parts
        return out

    def validate_ramp(self, value):
        if value not in RAMPS:
            raise serializers.ValidationError(messages.worded("沒有色階 {ramp}；請使用 {choices} 其中之一",
                                                              ramp=repr(value), choices=", ".join(RAMPS)))
        return value

    def validate_manual_breaks(self, value):
        if list(value) != sorted(set(value)) or len(value) >= MAX_CLASSES:
            raise serializers.ValidationError(messages.worded(
                "自訂斷點須由小到大、不重複，且少於 {count} 個", count=MAX_CLASSES))
        return value

    def validate(self, attrs):
        current = lambda name: attrs.get(name, getattr(self.instance, name))  # noqa: E731
        for field in COLOUR_FIELDS:
            if field in attrs:
                check_colour(attrs[field], field)
        for field, (low, high) in NUMBER_RANGES.items():
            if field in attrs and not low <= attrs[field] <= high:
                raise serializers.ValidationError({field: messages.worded(
                    "{value} 超出範圍：須介於 {low} 與 {high} 之間", value=attrs[field], low=low, high=high)})
        for low, high in SCALE_PAIRS:
            if current(low) and current(high) and current(low) >= current(high):
                raise serializers.ValidationError({high: messages.worded(
                    "比例尺範圍 1:{low} 至 1:{high} 不成立：放大端的分母須小於縮小端", low=current(low),
                    high=current(high))})
        kind = current("kind")
        layer = self.instance.layer
        if kind != Style.Kind.SINGLE and not current("attribute"):
            raise serializers.ValidationError({"attribute": messages.worded("{kind}樣式需要選擇用來分類的屬性",
                                                                            kind=Style.Kind(kind).label)})
        try:
            if kind != Style.Kind.SINGLE:
                attribute_of(layer, current("attribute"), "attribute")
            if attrs.get("label_attribute"):
                attribute_of(layer, attrs["label_attribute"], "label_attribute")
        except StyleError as exc:
            raise serializers.ValidationError({exc.field: str(exc)}) from None
        if kind == Style.Kind.GRADUATED and not current("method"):
            raise serializers.ValidationError({"method": messages.worded("分級需要分類方法：{choices}",
                                                                         choices=", ".join(Style.Method.values))})
        return attrs

    def update(self, instance, validated_data):
        """Set, classify and save — or with context `dry_run`, classify only (the preview of an editor)."""
        edited = validated_data.pop("classes", None)
        for key, value in validated_data.items():
            setattr(instance, key, value)
        try:
            instance.classes = keep_edits(compute_classes(instance), edited or [], instance.kind)
        except StyleError as exc:
            raise serializers.ValidationError({exc.field: str(exc)}) from exc
        if not self.context.get("dry_run"):
            instance.save()
        return instance


METADATA_FIELDS = ["topic_category", "lineage", "contact_name", "contact_organisation", "contact_email",
                   "contact_phone", "scale_denominator", "resolution_m", "temporal_start", "temporal_end",
                   "creation_date", "revision_date"]
PHONE = re.compile(r"\+?[0-9()\- ]{6,30}(?:\s*(?:#|ext\.?|分機)\s*[0-9]{1,6})?")


def _named_one(field: str, message) -> str:
    label = metadata.FIELD_LABELS.get(field)
    return messages.worded("{field}：{message}", field=str(label), message=str(message)) if label else str(message)


def _named(detail):
    """{field: [message]} with each message led by the field's name, where the field is a metadata field."""
    if not isinstance(detail, dict):
        return detail
    return {field: [_named_one(field, m) for m in problems] if isinstance(problems, list) else problems
            for field, problems in detail.items()}


class LayerDetailSerializer(LayerSerializer):
    """Everything the catalog knows about a layer; metadata fields are writable by its editors."""

    theme = serializers.SlugRelatedField(slug_field="slug", queryset=Theme.objects.all(), allow_null=True,
                                         required=False)
    allowed_groups = serializers.SlugRelatedField(slug_field="name", queryset=Group.objects.all(), many=True,
                                                  required=False)
    style = StyleSerializer(read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    attribute_labels = serializers.DictField(child=serializers.CharField(max_length=100), write_only=True,
                                             required=False, help_text="{column name: zh-Hant label} to rename labels")
    attribute_descriptions = serializers.DictField(
        child=serializers.DictField(), write_only=True, required=False,
        help_text="{column name: {label, label_en, unit, unit_en, kind, decimals, aggregate}}: correct what an "
                  "attribute is (kind: " + ", ".join(attribute_kinds.KINDS) + "; aggregate: sum, mean or none)")

    owner_agency = serializers.SlugRelatedField(slug_field="name", queryset=Group.objects.all(), allow_null=True,
                                                required=False)
    completeness = serializers.SerializerMethodField(
        help_text="{score: 0–100, missing: [{field, label, weight}], filled: [field]}: the recommended metadata "
                  "filled (weights in layers.metadata.RECOMMENDED)")
    can_edit = serializers.SerializerMethodField(help_text="whether the caller may describe and serve this layer "
                                                 "(its metadata, style and OGC services: the publish right)")
    rights = serializers.SerializerMethodField(help_text="the caller's rights on this layer (see, import, add, "
                                               "edit_own, edit_all, delete, publish, manage)")
    time_extent = serializers.SerializerMethodField(
        help_text="for a time-enabled layer (time_attribute set): [first, last] time in its data (ISO 8601, UTC)")
    edit_choices = serializers.SerializerMethodField(
        help_text="for those who may change the layer: the owner agencies they may give it and the groups it may "
                  "be opened to")

    class Meta(LayerSerializer.Meta):
        fields = LayerSerializer.Meta.fields + [
            "abstract", "keywords", "attributes", "attribute_labels", "attribute_descriptions", "source_crs", "srid",
            "native_extent",
            "source", "license", "update_frequency", *METADATA_FIELDS, "allowed_groups", "table_name",
            "raster_path", "service", "ogc_status", "ogc_error", "ogc_published_at", "style", "created_by",
            "created_at", "completeness", "can_edit", "rights", "edit_choices", "time_attribute", "time_extent"]
        read_only_fields = ["slug", "kind", "geometry_type", "feature_count", "attributes", "source_crs", "srid",
                            "native_extent", "table_name", "raster_path", "service", "ogc_status", "ogc_error",
                            "ogc_published_at", "created_at"]

    def to_representation(self, instance):
        out = super().to_representation(instance)
        out["native_extent"] = integrity.finite(out.get("native_extent"))  # JSON has no NaN or Infinity
        return out

    def get_completeness(self, layer) -> dict:
        found = metadata.completeness(layer)
        return {**found, "missing": metadata.labelled(found["missing"])}

    def get_can_edit(self, layer) -> bool:
        return "publish" in self.get_rights(layer)  # Layer.can_edit, from the rights read once

    def get_rights(self, layer) -> list[str]:
        """The caller's rights, read once per layer (can_edit and the edit choices ask again)."""
        request = self.context.get("request")
        if request is None:
            return []
        known = self.context.setdefault("caller_rights", {})
        if layer.pk not in known:
            known[layer.pk] = rights.rights_of(request.user, layer)
        return known[layer.pk]

    def get_edit_choices(self, layer) -> dict | None:
        if not self.get_can_edit(layer):
            return None
        user = self.context["request"].user
        every = list(Group.objects.order_by("name").values_list("name", flat=True))
        mine = every if user.is_superuser or user.is_staff else \
            list(user.groups.order_by("name").values_list("name", flat=True))
        return {"agencies": mine, "groups": every}

    def to_internal_value(self, data):
        """Every field's complaint names the field in the reader's language (「聯絡電子郵件：…」)."""
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError(_named(exc.detail)) from None

    def get_time_extent(self, layer) -> list[str] | None:
        found = timeaxis.extent(layer)
        return [timeaxis.iso(found[0]), timeaxis.iso(found[1])] if found else None

    def validate_time_attribute(self, value):
        try:
            return timeaxis.check_attribute(self.instance, value or "")
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate_owner_agency(self, group):
        user = self.context["request"].user
        if group is not None and not (user.is_superuser or user.is_staff or user.groups.filter(pk=group.pk).exists()):
            raise serializers.ValidationError(messages.worded("您不是 {agency} 的成員，不能把圖層交給它",
                                                              agency=group.name))
        return group

    def validate_keywords(self, value):
        cleaned = [k.strip() for k in value if k.strip()]
        if len(cleaned) > 30:
            raise serializers.ValidationError(messages.worded("最多 {n} 個關鍵字", n=30))
        return list(dict.fromkeys(cleaned))

    def validate_contact_phone(self, value):
        if value and not PHONE.fullmatch(value):
            raise serializers.ValidationError(messages.worded(
                "{value} 不像電話號碼（數字，可含 +、-、空格、括號與分機 #）", value=repr(value)))
        return value

    def validate_scale_denominator(self, value):
        if value is not None and not 1 <= value <= 100_000_000:
            raise serializers.ValidationError(messages.worded("比例尺 1:{value} 不合理；請填 1 到 100,000,000 的分母",
                                                              value=value))
        return value

    def validate_resolution_m(self, value):
        if value is not None and not 0 < value <= 1_000_000:
            raise serializers.ValidationError(messages.worded("解析度請填大於 0 的公尺數"))
        return value

    def _unknown_names(self, value):
        names = {a["name"] for a in self.instance.attributes}
        unknown = sorted(set(value) - names)
        if unknown:
            raise serializers.ValidationError(f"no such attribute(s): {', '.join(unknown)}")

    def validate_attribute_labels(self, value):
        self._unknown_names(value)
        return {name: {"label": label} for name, label in value.items()}

    def validate_attribute_descriptions(self, value):
        self._unknown_names(value)
        return value

    def validate(self, attrs):
        """Labels and descriptions together, each edit checked against the attribute it changes; a time range that
        ends before it starts."""
        start = attrs.get("temporal_start", getattr(self.instance, "temporal_start", None))
        end = attrs.get("temporal_end", getattr(self.instance, "temporal_end", None))
        if start and end and end < start:
            raise serializers.ValidationError({"temporal_end": _named_one("temporal_end", messages.worded(
                "結束日期 {end} 早於開始日期 {start}", end=end.isoformat(), start=start.isoformat()))})
        edits = {}
        for source in ("attribute_labels", "attribute_descriptions"):
            for name, edit in attrs.pop(source, {}).items():
                edits.setdefault(name, {}).update(edit)
        if edits:
            described, problems = [], {}
            for attribute in self.instance.attributes:
                if attribute["name"] not in edits:
                    described.append(attribute)
                    continue
                try:
                    described.append(attribute_kinds.validate_edit(attribute, edits[attribute["name"]]))
                except ValueError as exc:
                    problems[attribute["name"]] = str(exc)
            if problems:
                raise serializers.ValidationError({"attribute_descriptions": problems})
            attrs["attributes"] = described
        return super().validate(attrs)

    def update(self, instance, validated_data):
        if "attributes" in validated_data:
            instance.attributes = validated_data.pop("attributes")
        return super().update(instance, validated_data)


class LayerVersionSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    current = serializers.SerializerMethodField()
    restorable = serializers.SerializerMethodField()
    job = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = LayerVersion
        fields = ["number", "feature_count", "source_name", "note", "created_by", "created_at", "job", "current",
                  "restorable"]

    def get_current(self, version) -> bool:
        return version.layer.current_version_id == version.pk

    def get_restorable(self, version) -> bool:
        if self.get_current(version):
            return False
        if version.raster_path:
            return True
        return bool(version.table_name) and catalog.table_exists("layerversions", version.table_name)


class ServiceRegistrationSerializer(serializers.Serializer):
    """An external WMS / WMTS layer or XYZ tile template to list in the catalog (checked against the service)."""

    type = serializers.ChoiceField(["wms", "wmts", "xyz"])
    url = serializers.URLField(max_length=1000, help_text="WMS/WMTS capabilities endpoint, or an XYZ template with "
                                                          "{z}/{x}/{y}")
    layer = serializers.CharField(max_length=200, required=False, default="",
                                  help_text="the service's layer name (WMS, WMTS)")
    slug = serializers.RegexField(r"^[a-z][a-z0-9_-]{0,49}$", help_text="the slug wanted; if it is taken, the "
                                  "layer gets the next free one (slug-2, …) and the answer names it")
    title = serializers.CharField(max_length=200, required=False)
    title_en = serializers.CharField(max_length=200, required=False)
    theme = serializers.SlugRelatedField(slug_field="slug", queryset=Theme.objects.all(), required=False)
    visibility = serializers.ChoiceField(Layer.Visibility.choices, default=Layer.Visibility.INTERNAL)
    attribution = serializers.CharField(max_length=300, required=False, default="",
                                        help_text="who provides the service, shown on the map")

    def validate(self, attrs):
        if attrs["type"] != "xyz" and not attrs.get("layer"):
            raise serializers.ValidationError({"layer": f"name the {attrs['type'].upper()} layer to show"})
        return attrs


class UploadSerializer(serializers.Serializer):
    """A file upload that becomes an import job (or several: one per file)."""

    # an empty file is let through to the import, which refuses it by name (DRF's own message names none)
    files = serializers.ListField(child=serializers.FileField(allow_empty_file=True), allow_empty=False,
                                  help_text="the file(s): zip, shapefile parts together, GeoPackage, GeoJSON, KML/KMZ, "
                                            "CSV or GeoTIFF")
    slug = serializers.RegexField(r"^[a-z][a-z0-9_-]{0,49}$", required=False)
    title = serializers.CharField(max_length=200, required=False)
    title_en = serializers.CharField(max_length=200, required=False)
    abstract = serializers.CharField(required=False)
    keywords = serializers.ListField(child=serializers.CharField(max_length=60), required=False)
    theme = serializers.SlugRelatedField(slug_field="slug", queryset=Theme.objects.all(), required=False)
    visibility = serializers.ChoiceField(Layer.Visibility.choices, required=False)
    owner_agency = serializers.SlugRelatedField(slug_field="name", queryset=Group.objects.all(), required=False)
    crs = serializers.CharField(max_length=2000, required=False,
                                help_text="the data's CRS when the file does not say (EPSG code or WKT)")
    encoding = serializers.ChoiceField(["utf-8", "cp950", "big5"], required=False,
                                       help_text="text encoding when it cannot be detected")
    license = serializers.CharField(max_length=200, required=False)
    address_column = serializers.CharField(max_length=100, required=False,
                                           help_text="CSV: the column of addresses to locate (found by name — 地址, "
                                                     "address, 門牌 — when the file has no coordinates)")
    on_clash = serializers.ChoiceField(
        ["ask", "new_layer", "new_version"], default="new_layer",
        help_text="when a layer you can see already has the name: ask (answer 409 with the clashes and the choices), "
                  "new_layer (the next free slug) or new_version (a new version of that layer; one dataset, and "
                  "you may change the layer)")
    avoid_colors = serializers.ListField(
        child=serializers.RegexField(r"^#[0-9a-fA-F]{6}$"), required=False, max_length=100,
        help_text="colours already on your map: each new layer gets a palette colour none of them uses (not told: "
                  "one your latest layers do not use)")

    def validate_owner_agency(self, group):
        user = self.context["request"].user
        if not (user.is_superuser or user.groups.filter(pk=group.pk).exists()):
            raise serializers.ValidationError(f"you are not a member of {group.name!r}")
        return group

    def validate_crs(self, value):
        from pyproj import CRS
        from pyproj.exceptions import CRSError

        try:
            CRS.from_user_input(f"EPSG:{value}" if value.isdigit() else value)
        except CRSError as exc:
            raise serializers.ValidationError(f"{value[:80]!r} is not a CRS PROJ knows") from exc
        return value

    def job_options(self, mode: str) -> dict:
        data = self.validated_data
        user = self.context["request"].user
        options = {k: data[k] for k in ("slug", "title", "title_en", "abstract", "keywords", "visibility", "crs",
                                         "license", "address_column") if k in data}
        if data.get("encoding"):
            options["encoding"] = "cp950" if data["encoding"] == "big5" else data["encoding"]
        if data.get("theme"):
            options["theme"] = data["theme"].slug
        agency = data.get("owner_agency") or user.groups.order_by("name").first()
        if agency:
            options["owner_agency"] = agency.pk
        options["mode"] = mode
        return options
