"""Keeping the address index current: a layer saved with new data is re-read once its transaction commits (an
import or a new version); a title or style edit leaves the index alone (the stamp is unchanged)."""

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from layers.models import Layer

from . import index


@receiver(post_save, sender=Layer, dispatch_uid="geocoding-address-index")
def refresh_address_index(sender, instance: Layer, **kwargs):
    if not index.is_address_layer(instance):
        return
    pk = instance.pk

    def rebuild():
        layer = Layer.objects.filter(pk=pk).first()
        if layer is not None and index.is_address_layer(layer):
            index.ensure(layer)

    transaction.on_commit(rebuild)
