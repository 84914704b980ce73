from django.urls import reverse
from rest_framework import serializers

from geo import messages
from layers.models import Layer

from .models import Job


class JobSerializer(serializers.ModelSerializer):
    """A job as its owner (or an admin) polls it. `layers` and `results` name only the result layers the viewer may
    see: the view prefetches them through LayerQuerySet.visible_to (jobs.views)."""

    layers = serializers.SerializerMethodField(help_text="slugs of the result layers you may see")
    results = serializers.SerializerMethodField(help_text="links to what the job produced: its layers (those you "
                                                          "may see) and, for siting, its report")
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    url = serializers.HyperlinkedIdentityField(view_name="job-detail")
    cancel_requested = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = ["id", "url", "kind", "status", "progress", "source_name", "options", "messages", "errors", "counts",
                  "layers", "results", "cancel_requested", "created_by", "created_at", "started_at", "finished_at"]

    def get_layers(self, job) -> list[str]:
        return [layer.slug for layer in self._visible_layers(job)]

    def _visible_layers(self, job):
        if "layers" in getattr(job, "_prefetched_objects_cache", {}):
            return job.layers.all()  # prefetched as visible_to the viewer
        request = self.context.get("request")
        return Layer.objects.visible_to(request.user if request else None).filter(jobs=job)

    def get_results(self, job) -> list[dict]:
        request = self.context.get("request")
        absolute = request.build_absolute_uri if request else (lambda path: path)
        out = [{"type": "layer", "slug": layer.slug, "title_zh": layer.title_zh, "title_en": layer.title_en,
                "url": absolute(reverse("layer-detail", args=[layer.slug]))} for layer in self._visible_layers(job)]
        if job.kind == Job.Kind.SITING and out:  # the report goes with the result layers (analysis.views)
            out += [{"type": "report", "name": name,
                     "url": absolute(reverse("analysis-siting-report", args=[job.pk, name]))}
                    for name in ("report.html", "candidates.csv")]
        return out

    def get_cancel_requested(self, job) -> bool:
        return job.cancel_requested_at is not None

    def to_representation(self, instance):
        """Messages and errors worded in the request's language (kept as msgid + parameters: geo.messages); the
        shape stays: messages a list of strings, errors [{message, file, rows, field}]."""
        data = super().to_representation(instance)
        data["messages"] = [messages.render(m) for m in instance.messages]
        data["errors"] = [{**{k: v for k, v in e.items() if k not in ("msgid", "params")},
                           "message": messages.render(e)} for e in instance.errors]
        return data
