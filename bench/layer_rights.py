"""What rights of their own cost (issue 20): the catalog a signed-in user may see, now that grants (accounts.LayerGrant)
open layers too, against the rule before them (visibility, allowed groups, owner agency) in the same run.

    .venv/bin/python -m geo.localstack run bench -- .venv/bin/python bench/layer_rights.py --layers 600 --runs 30

The bench adds `--layers` catalog entries (no data tables: the question is the catalog query), a third of them
restricted, 12 groups, one user in 3 of them, and grants on a third of the layers (to groups and to the user); all
removed at the end. Printed, median of `--runs` after one warm-up, in milliseconds:

- visible_to(user): the ids of the layers the user may see (every list, tile and /ows request asks it);
- the same with the rule before grants (the baseline), and the ratio;
- layers_where(user, "edit_all"): the queryset form of "may U do R", and may() on one layer.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

PREFIX = "bench-rights-"


def timed(fn, runs: int) -> float:
    fn()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--layers", type=int, default=600)
    parser.add_argument("--runs", type=int, default=30)
    args = common.start(__doc__, parser)

    from django.contrib.auth.models import Group, User
    from django.db.models import Q

    from accounts import rights
    from accounts.models import LayerGrant
    from layers.models import Layer, LayerSource

    def cleanup():
        Layer.objects.filter(slug__startswith=PREFIX).delete()
        Group.objects.filter(name__startswith=PREFIX).delete()
        User.objects.filter(username__startswith=PREFIX).delete()

    cleanup()
    try:
        groups = [Group.objects.create(name=f"{PREFIX}{i}") for i in range(12)]
        user = User.objects.create_user(f"{PREFIX}user")
        user.groups.add(*groups[:3])
        layers = Layer.objects.bulk_create([
            Layer(slug=f"{PREFIX}{i}", title_zh=f"圖層 {i}", kind="vector",
                  visibility=("restricted", "internal", "public")[i % 3], owner_agency=groups[i % 12])
            for i in range(args.layers)])
        for layer in layers[::5]:
            layer.allowed_groups.add(groups[(layer.pk // 5) % 12])
        LayerGrant.objects.bulk_create(
            [LayerGrant(layer=layer, group=groups[(i + 1) % 12], rights=["edit_all", "publish"])
             for i, layer in enumerate(layers[::3])]
            + [LayerGrant(layer=layer, user=user, rights=["see", "add"]) for layer in layers[1::7]])

        def now():
            return list(Layer.objects.visible_to(user).values_list("pk", flat=True))

        def before():  # the rule before grants (layers.models.LayerQuerySet.visible_to at main, before issue 20)
            group_ids = list(user.groups.values_list("pk", flat=True))
            readable = (Q(visibility__in=["public", "internal"]) | Q(allowed_groups__in=group_ids)
                        | Q(owner_agency__in=group_ids))
            recorded = Q(visibility__in=["public", "internal"]) | Q(groups__overlap=group_ids)
            base = Layer.objects.filter(readable).values("pk")
            blocked = LayerSource.objects.filter(Q(source__isnull=False) & ~Q(source__in=base)
                                                 | Q(source__isnull=True) & ~recorded).values("result_id")
            return list(Layer.objects.filter(pk__in=base).exclude(pk__in=blocked).values_list("pk", flat=True))

        def where():
            return list(rights.layers_where(user, "edit_all").values_list("pk", flat=True))

        one = layers[3]

        def may_one():
            return rights.may(user, "edit_all", one)

        figures = {}
        for _round in range(3):  # alternating rounds: the machine's load falls on both sides alike
            for name, fn in (("before", before), ("now", now), ("layers_where", where), ("may", may_one)):
                figures.setdefault(name, []).append(timed(fn, args.runs))
        median = {name: statistics.median(values) for name, values in figures.items()}
        print(f"catalog: {Layer.objects.count()} layers ({args.layers} added), {LayerGrant.objects.count()} grants; "
              f"the user sees {len(now())} (before grants: {len(before())})")
        print(f"visible_to, rule before grants (baseline): {median['before']:.2f} ms")
        print(f"visible_to with grants:                    {median['now']:.2f} ms  "
              f"(×{median['now'] / median['before']:.2f} the baseline)")
        print(f"layers_where(user, 'edit_all'):            {median['layers_where']:.2f} ms")
        print(f"may(user, 'edit_all', one layer):          {median['may']:.2f} ms")
    finally:
        cleanup()


if __name__ == "__main__":
    main()
