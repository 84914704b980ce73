"""A layer's form rules: what each attribute must hold when a feature is added or changed, by any protocol.

Rules are kept per layer (`LayerForm.fields`, edited by the layer's editors through the API) as
{column: rule}, each rule any of:

- `required`: true — the feature must have a value (not null, not empty text) after the change;
- `values`: a value list (domain): `["甲", "乙"]` or `[{"value": "a", "label": "甲", "label_en": "A"}, …]`;
- `min`, `max`: a range for numbers and dates (inclusive);
- `default`: a value, or `default_from`: `user` (the editor's user name), `agency` (their agency's name),
  `today` or `now` — filled in when a new feature is added without the attribute;
- `read_only`: true — clients may not change it (sending the value it has, or gets by default, is accepted);
- `when`: `{"field": "status", "values": ["closed"]}` — the attribute is shown, and required if `required`,
  only when `field` has a value (one of `values`, if given);
- `split`: what each piece of a split feature gets (editing.store.split): `copy` (the default), `clear`, or
  `proportional` (numbers: shared by the pieces' area or length).

`enforce` is the one place the rules are applied: editing.store calls it inside each write's transaction, so the
REST API and every other protocol that writes through the store gets the same answers — a BadRequest naming the
attribute by its label and column. `form` answers the form a client draws: every attribute with its label, unit,
type and rules. Restores and rollbacks bring back recorded states and are not checked against today's rules.
"""

import json
from datetime import date, datetime

from django.utils import timezone

from layers.serving.access import BadRequest

from . import store
from .models import LayerForm

KEYS = {"required", "values", "min", "max", "default", "default_from", "read_only", "when", "split"}
DEFAULT_FROM = {"user": store.TEXT_TYPES, "agency": store.TEXT_TYPES,
                "today": store.DATE_TYPES | store.TIME_TYPES | store.TEXT_TYPES,
                "now": store.TIME_TYPES | store.TEXT_TYPES}
RANGED = set(store.INTEGER_TYPES) | store.NUMBER_TYPES | store.DATE_TYPES | store.TIME_TYPES


def rules_of(layer) -> dict:
    form = LayerForm.objects.filter(layer_id=layer.pk).values_list("fields", flat=True).first()
    return form or {}


def _plain(value):
    """A value as JSON gives it back (dates as ISO text), for comparing what was sent with what is stored."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _empty(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _shown(value) -> str:
    return json.dumps(_plain(value), ensure_ascii=False)[:80]


# ---------------------------------------------------------------------------------------------------------------
# checking rules as an editor sets them
# ---------------------------------------------------------------------------------------------------------------
def checked_rules(body, table: store.Table) -> dict:
    """{column: rule} as given, checked against the table: every problem is a 400 naming the attribute."""
    fields = body.get("fields") if isinstance(body, dict) else None
    if not isinstance(fields, dict):
        raise BadRequest("請送 {{\"fields\": {{屬性: {{required, values, min, max, default, default_from, read_only, "
                         "when}}}}}}")
    out = {}
    for name, rule in fields.items():
        if name not in table.columns:
            raise BadRequest("屬性 {name} 不在這個圖層中；可用的屬性：{names}", name=repr(name),
                             names=", ".join(sorted(table.columns)) or "—")
        if not isinstance(rule, dict):
            raise BadRequest("屬性 {name} 的規則必須是物件", name=repr(name))
        unknown = sorted(set(rule) - KEYS)
        if unknown:
            raise BadRequest("屬性 {name} 的規則有不認得的項目 {keys}；可用：{known}", name=repr(name),
                             keys=", ".join(unknown), known=", ".join(sorted(KEYS)))
        out[name] = _checked_rule(name, rule, table)
    for name, rule in out.items():
        when = rule.get("when")
        if when and when["field"] not in table.columns:
            raise BadRequest("屬性 {name} 的條件（when）指向不存在的屬性 {other}", name=repr(name),
                             other=repr(when["field"]))
    return {name: rule for name, rule in out.items() if rule}


def _checked_rule(name: str, rule: dict, table: store.Table) -> dict:
    dtype = table.columns[name][0]
    out = {}
    for flag in ("required", "read_only"):
        if flag in rule:
            if not isinstance(rule[flag], bool):
                raise BadRequest("屬性 {name} 的 {key} 應為 true 或 false", name=repr(name), key=flag)
            if rule[flag]:
                out[flag] = True
    if rule.get("values") is not None:
        values = rule["values"]
        if not isinstance(values, list) or not values:
            raise BadRequest("屬性 {name} 的 values（值域）應為非空的清單", name=repr(name))
        entries = []
        for entry in values:
            entry = entry if isinstance(entry, dict) else {"value": entry}
            if "value" not in entry or set(entry) - {"value", "label", "label_en"}:
                raise BadRequest("屬性 {name} 的值域項目應為值或 {{value, label, label_en}}", name=repr(name))
            _plain_value = _plain(store.value_of(name, entry["value"], table))
            entries.append({k: (_plain_value if k == "value" else str(v)) for k, v in entry.items()})
        out["values"] = entries
    for bound in ("min", "max"):
        if rule.get(bound) is not None:
            if dtype not in RANGED:
                raise BadRequest("屬性 {name} 不是數值或日期，不能設定範圍（{key}）", name=repr(name), key=bound)
            out[bound] = _plain(store.value_of(name, rule[bound], table))
    if "min" in out and "max" in out and store.value_of(name, out["min"], table) > \
            store.value_of(name, out["max"], table):
        raise BadRequest("屬性 {name} 的範圍下限大於上限", name=repr(name))
    if rule.get("default") is not None and rule.get("default_from") is not None:
        raise BadRequest("屬性 {name} 只能有 default 或 default_from 其中之一", name=repr(name))
    if rule.get("default") is not None:
        out["default"] = _plain(store.value_of(name, rule["default"], table))
    if rule.get("default_from") is not None:
        source = rule["default_from"]
        if source not in DEFAULT_FROM:
            raise BadRequest("屬性 {name} 的 default_from 應為 {known} 之一", name=repr(name),
                             known=", ".join(DEFAULT_FROM))
        if dtype not in DEFAULT_FROM[source]:
            raise BadRequest("屬性 {name}（{type}）不能以 {source} 為預設值", name=repr(name), type=dtype,
                             source=source)
        out["default_from"] = source
    if rule.get("when") is not None:
        when = rule["when"]
        if not isinstance(when, dict) or not isinstance(when.get("field"), str) or set(when) - {"field", "values"}:
            raise BadRequest("屬性 {name} 的條件（when）應為 {{\"field\": 屬性, \"values\": [值…]}}", name=repr(name))
        if when["field"] == name:
            raise BadRequest("屬性 {name} 的條件（when）不能指向自己", name=repr(name))
        condition = {"field": when["field"]}
        if when.get("values") is not None:
            if not isinstance(when["values"], list) or not when["values"]:
                raise BadRequest("屬性 {name} 的條件值（when.values）應為非空的清單", name=repr(name))
            condition["values"] = [_plain(v) for v in when["values"]]
        out["when"] = condition
    if rule.get("split") is not None:
        if rule["split"] not in store.SPLIT_RULES:
            raise BadRequest("屬性 {name} 的 split 應為 {known} 之一", name=repr(name),
                             known=", ".join(store.SPLIT_RULES))
        if rule["split"] == "proportional" and dtype not in set(store.INTEGER_TYPES) | store.NUMBER_TYPES:
            raise BadRequest("屬性 {name} 不是數值，分割時不能按比例分配", name=repr(name))
        if rule["split"] != "copy":
            out["split"] = rule["split"]
    return out


def save(layer, user, body) -> dict:
    fields = checked_rules(body, store.table_of(layer))
    LayerForm.objects.update_or_create(layer=layer, defaults={
        "fields": fields, "updated_by": user.get_username() if user and user.is_authenticated else ""})
    return fields


# ---------------------------------------------------------------------------------------------------------------
# the form a client draws
# ---------------------------------------------------------------------------------------------------------------
def form(layer) -> dict:
    """Every editable attribute in the catalog's order, with its label, unit, type and rules."""
    table = store.table_of(layer)
    rules = rules_of(layer)
    described = {a.get("name"): a for a in (layer.attributes or []) if isinstance(a, dict)}
    order = [n for n in described if n in table.columns] + sorted(n for n in table.columns if n not in described)
    fields = []
    for name in order:
        about = described.get(name, {})
        dtype, length = table.columns[name]
        field = {"name": name, "type": dtype, "input": _input_of(dtype), "label": about.get("label") or name,
                 "label_en": about.get("label_en") or about.get("label") or name}
        if length:
            field["max_length"] = length
        for key in ("unit", "unit_en", "kind", "decimals"):
            if about.get(key) not in (None, ""):
                field[key] = about[key]
        field.update(rules.get(name, {}))
        fields.append(field)
    return {"layer": layer.slug, "geometry_type": table.geometry_type, "fields": fields}


def _input_of(dtype: str) -> str:
    if dtype in store.INTEGER_TYPES:
        return "integer"
    if dtype in store.NUMBER_TYPES:
        return "number"
    if dtype in store.DATE_TYPES:
        return "date"
    if dtype in store.TIME_TYPES:
        return "datetime"
    if dtype == "boolean":
        return "boolean"
    return "text" if dtype in store.TEXT_TYPES else "other"


# ---------------------------------------------------------------------------------------------------------------
# enforcing them on a write
# ---------------------------------------------------------------------------------------------------------------
def _default(rule: dict, user, layer):
    source = rule.get("default_from")
    if source == "user":
        return user.get_username() if user and user.is_authenticated else None
    if source == "agency":
        return _agency_of(user, layer)
    if source == "today":
        return timezone.localdate()
    if source == "now":
        return timezone.localtime()
    return rule.get("default")


def _agency_of(user, layer) -> str | None:
    if not (user and user.is_authenticated):
        return None
    agencies = user.groups.filter(agency__isnull=False)
    own = agencies.filter(pk=layer.owner_agency_id).first() if layer.owner_agency_id else None
    found = own or agencies.order_by("name").first()
    return found.name if found else None


def _label(layer, name: str) -> str:
    """「消防栓編號」（hydrant_no）: the attribute's label with its column, for a message."""
    from django.utils import translation

    about = next((a for a in (layer.attributes or []) if isinstance(a, dict) and a.get("name") == name), {})
    english = (translation.get_language() or "").lower().startswith("en")
    label = (about.get("label_en") if english else None) or about.get("label")
    return f"{label} ({name})" if english and label and label != name else \
        f"「{label}」（{name}）" if label and label != name else repr(name)


def _applies(rule: dict, final: dict) -> bool:
    when = rule.get("when")
    if not when:
        return True
    value = _plain(final.get(when["field"]))
    if _empty(value):
        return False
    return "values" not in when or value in when["values"]


def enforce(layer, table: store.Table, user, values: dict, current: dict | None) -> dict:
    """`values` (column → value as the column takes it) checked and completed by the layer's rules.
    `current`: the feature's properties before the change (None when adding one). Returns the values to write."""
    rules = rules_of(layer)
    if not rules:
        return values
    values = dict(values)
    creating = current is None
    for name, rule in rules.items():
        if name not in table.columns:  # the column was dropped by a re-import since
            continue
        if creating and name not in values and (rule.get("default") is not None or rule.get("default_from")):
            values[name] = store.value_of(name, _plain(_default(rule, user, layer)), table)
            continue
        if rule.get("read_only") and name in values:
            allowed = _plain(_default(rule, user, layer)) if creating else (current or {}).get(name)
            if _plain(values[name]) != allowed:
                raise BadRequest("{field} 是唯讀欄位，不能修改", field=_label(layer, name))
    final = {**(current or {}), **{k: _plain(v) for k, v in values.items()}}
    for name, rule in rules.items():
        if name not in table.columns:
            continue
        if rule.get("required") and _applies(rule, final) and _empty(final.get(name)):
            raise BadRequest("{field} 為必填", field=_label(layer, name))
        if name not in values or values[name] is None:
            continue
        value = _plain(values[name])
        if rule.get("values") is not None and value not in [e["value"] for e in rule["values"]]:
            raise BadRequest("{field} 的值 {value} 不在值域中；可用的值：{allowed}", field=_label(layer, name),
                             value=_shown(value), allowed=", ".join(_shown(e["value"]) for e in rule["values"][:20]))
        low, high = rule.get("min"), rule.get("max")
        if low is not None or high is not None:
            number = values[name]
            if (low is not None and number < store.value_of(name, low, table)) or \
                    (high is not None and number > store.value_of(name, high, table)):
                raise BadRequest("{field} 的值 {value} 超出範圍 {low} – {high}", field=_label(layer, name),
                                 value=_shown(value), low="—" if low is None else low,
                                 high="—" if high is None else high)
    return values
