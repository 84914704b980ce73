"""The same rules for the directory and the OpenID Connect provider: their agency and groups → civgis's.

AUTH_AGENCY_MAP names the civgis agency of each directory value ("udd" → "都市發展局"; a value not in it is the
agency's name as it is, or an agency whose `code` it is). AUTH_GROUP_MAP names the civgis groups of each directory
group (a name or a list; "@staff" and "@superuser" grant those flags). At each sign-in the user's managed groups —
every agency and every group AUTH_GROUP_MAP names — become what the directory says now; groups an administrator
gave in civgis that the mapping does not manage are kept.
"""

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from audit import actors, events

from .models import Account, Agency

FLAGS = {"@staff": "is_staff", "@superuser": "is_superuser"}


def mapped_groups(external: list[str]) -> tuple[set[str], set[str]]:
    """The civgis group names and the flags the directory's or provider's groups map to."""
    names, flags = set(), set()
    for group in external:
        targets = settings.AUTH_GROUP_MAP.get(group, [])
        for target in [targets] if isinstance(targets, str) else targets:
            (flags.add(FLAGS[target]) if target in FLAGS else names.add(target))
    return names, flags


def agency_for(value: str | None) -> Agency | None:
    """The agency a directory value names (created on first sight, with the value as its code)."""
    if not value:
        return None
    name = settings.AUTH_AGENCY_MAP.get(value)
    if name is None:
        known = Agency.objects.filter(code=value).select_related("group").first()
        if known:
            return known
        name = value
    group, _ = Group.objects.get_or_create(name=name)
    agency, created = Agency.objects.get_or_create(group=group, defaults={"code": value})
    if not created and not agency.code:
        agency.code = value
        agency.save(update_fields=["code"])
    return agency


def managed_group_ids() -> set[int]:
    targets = {t for ts in settings.AUTH_GROUP_MAP.values() for t in ([ts] if isinstance(ts, str) else ts)}
    ids = set(Group.objects.filter(name__in=targets - set(FLAGS)).values_list("pk", flat=True))
    return ids | set(Agency.objects.values_list("group_id", flat=True))


@transaction.atomic
def apply(user, source: str, external_id: str, agency_value: str | None, external_groups: list[str]) -> None:
    """Bring `user`'s agency, managed groups and flags in line with what the directory or provider says."""
    agency = agency_for(agency_value)
    names, flags = mapped_groups(external_groups)
    wanted = {Group.objects.get_or_create(name=name)[0].pk for name in sorted(names)}
    if agency:
        wanted.add(agency.group_id)
    managed = managed_group_ids() | wanted
    have = set(user.groups.values_list("pk", flat=True))
    if to_remove := (have & managed) - wanted:
        user.groups.remove(*to_remove)
    if to_add := wanted - have:
        user.groups.add(*to_add)
    decides_flags = {FLAGS[t] for ts in settings.AUTH_GROUP_MAP.values()
                     for t in ([ts] if isinstance(ts, str) else ts) if t in FLAGS}
    changed = {}
    for flag in decides_flags:
        if getattr(user, flag) != (flag in flags):
            setattr(user, flag, flag in flags)
            changed[flag] = flag in flags
    if changed:
        user.save(update_fields=list(changed))
        events.record("permission_change", actors.SYSTEM, object_type="user", object_id=user.pk,
                      object_label=user.get_username(), detail={"via": source, **changed})
    Account.objects.update_or_create(user=user, defaults={
        "source": source, "external_id": external_id[:500], "agency": agency,
        "external_groups": sorted(external_groups), "synced_at": timezone.now()})


def is_local_account(user) -> bool:
    """A local account (its own password, or no record of coming from the directory or provider): a directory or
    provider user of the same name must not take it over."""
    account = Account.objects.filter(user=user).first()
    return user.has_usable_password() or (account is None and user.last_login is not None) or (
        account is not None and account.source == Account.Source.LOCAL)
