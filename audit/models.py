from django.db import models

GENESIS = "0" * 64  # the link of the very first entry


class AuditEntry(models.Model):
    """One thing that happened, or one hour of one person's reads of one layer (`count` of them).

    Actors and objects are snapshots (ids and names as they were), not foreign keys: an entry outlives the user or
    layer it names, and a cascade must never delete from the chain. `hash` = sha256(prev_hash + the canonical
    serialisation of every other field): see audit.chain.
    """

    seq = models.BigIntegerField(primary_key=True, help_text="position in the chain, 1, 2, 3 …")
    time = models.DateTimeField(db_index=True, help_text="when it happened (aggregated reads: their hour's start)")
    actor_id = models.IntegerField(null=True, blank=True, db_index=True, help_text="user id; null: anonymous/system")
    actor_name = models.CharField(max_length=150, blank=True, help_text="username as it was then")
    address = models.CharField(max_length=45, blank=True, help_text="client IP address")
    action = models.CharField(max_length=32, db_index=True)
    object_type = models.CharField(max_length=32, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_label = models.CharField(max_length=200, blank=True, help_text="e.g. the layer's slug then")
    detail = models.JSONField(default=dict, blank=True)
    count = models.BigIntegerField(default=1)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-seq"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object")]
        verbose_name = "稽核紀錄"
        verbose_name_plural = "稽核紀錄"


class AuditChain(models.Model):
    """The chain's two ends, one row: appends lock it (one linear chain across workers), pruning moves its start.

    `first_prev_hash` is the hash of the last pruned entry, so the first kept entry still links to something
    recorded; `last_seq`/`last_hash` let verification notice entries cut from the end.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    first_seq = models.BigIntegerField(default=1)
    first_prev_hash = models.CharField(max_length=64, default=GENESIS)
    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default=GENESIS)
