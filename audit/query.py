"""Filtering the log by the API's query parameters; a bad parameter is named in a 400."""

import ipaddress
from datetime import datetime, time

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from rest_framework.exceptions import ValidationError

from .models import AuditEntry

FILTERS = {
    "actor": "user id or username",
    "action": "one action or several, comma-separated: read, export, create, change, permission_change, delete, "
              "import, reimport, restore, analyse, publish, withdraw, sign_in, sign_in_failed, sign_out, prune",
    "layer": "layer slug (or id)",
    "object_type": "layer, marker, shared_view, print, analysis_job, user, group …",
    "object_id": "the object's id",
    "from": "from this time on (ISO 8601 date or date-time; a date means its start, Asia/Taipei)",
    "to": "before this time (a date means up to its end)",
    "address": "a client address (IPv4/IPv6) or a network in CIDR notation, e.g. 10.20.0.0/16",
}


def _moment(name: str, text: str, end: bool) -> datetime:
    moment = parse_datetime(text)
    if moment is None:
        day = parse_date(text)
        if day is None:
            raise ValidationError({name: f"{text!r} is not a date (2026-12-07) or date-time (2026-12-07T09:30+08:00)"})
        moment = datetime.combine(day, time.max if end else time.min)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def filtered(params) -> QuerySet:
    qs = AuditEntry.objects.all()
    if actor := params.get("actor", "").strip():
        qs = qs.filter(actor_id=int(actor)) if actor.isdigit() else qs.filter(actor_name=actor)
    if action := params.get("action", "").strip():
        qs = qs.filter(action__in=[a.strip() for a in action.split(",") if a.strip()])
    if layer := params.get("layer", "").strip():
        qs = qs.filter(object_type="layer").filter(Q(object_label=layer) | Q(object_id=layer))
    if object_type := params.get("object_type", "").strip():
        qs = qs.filter(object_type=object_type)
    if object_id := params.get("object_id", "").strip():
        qs = qs.filter(object_id=object_id)
    if start := params.get("from", "").strip():
        qs = qs.filter(time__gte=_moment("from", start, end=False))
    if stop := params.get("to", "").strip():
        qs = qs.filter(time__lte=_moment("to", stop, end=True))
    if address := params.get("address", "").strip():
        try:
            network = ipaddress.ip_network(address, strict=False)
        except ValueError:
            raise ValidationError({"address": f"{address!r} is not an IP address or a CIDR network"}) from None
        if network.num_addresses == 1:
            qs = qs.filter(address=network.network_address.compressed)
        else:
            qs = qs.extra(where=["NULLIF(address, '')::inet <<= %s::cidr"], params=[str(network)])  # noqa: S610 - a parameter, no text from the request in the SQL
    return qs.order_by("-time", "-seq")
