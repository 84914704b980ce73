"""Existing analysis results get the sources their provenance names (and those sources' own sources), the most
restrictive visibility among them and the groups of the restricted ones. A named input that no longer exists is
recorded as restricted to no group: its rule is unknown, so the result is left to administrators (who may open it
up again) rather than guessed."""

from django.db import migrations

RANK = ["public", "internal", "restricted"]


def link_existing_results(apps, schema_editor):
    Layer = apps.get_model("layers", "Layer")
    LayerSource = apps.get_model("layers", "LayerSource")
    for result in Layer.objects.exclude(provenance={}).order_by("created_at", "pk"):  # inputs before results
        slugs = [str(s) for s in (result.provenance or {}).get("inputs", [])]
        if not slugs or LayerSource.objects.filter(result=result).exists():
            continue
        found = {layer.slug: layer for layer in Layer.objects.filter(slug__in=slugs).exclude(pk=result.pk)}
        links = {}
        for slug in slugs:
            layer = found.get(slug)
            if layer is None:
                links.setdefault(f"gone-{slug}", LayerSource(result=result, slug=slug, visibility="restricted",
                                                             groups=[]))
                continue
            groups = set(layer.allowed_groups.values_list("pk", flat=True)) | (
                {layer.owner_agency_id} if layer.owner_agency_id else set())
            links.setdefault(layer.pk, LayerSource(result=result, source=layer, slug=layer.slug,
                                                   visibility=layer.visibility, groups=sorted(groups)))
            for link in LayerSource.objects.filter(result=layer):
                key = link.source_id if link.source_id is not None else f"gone-{link.pk}"
                links.setdefault(key, LayerSource(result=result, source_id=link.source_id, slug=link.slug,
                                                  visibility=link.visibility, groups=link.groups))
        LayerSource.objects.bulk_create(links.values())
        result.visibility = max([result.visibility, *(link.visibility for link in links.values())], key=RANK.index)
        result.save(update_fields=["visibility"])
        result.allowed_groups.add(*{pk for link in links.values() if link.visibility == "restricted"
                                    for pk in link.groups})


class Migration(migrations.Migration):

    dependencies = [
        ("layers", "0009_derived_access"),
    ]

    operations = [migrations.RunPython(link_existing_results, migrations.RunPython.noop)]
