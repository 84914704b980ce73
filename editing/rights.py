"""The one question every editing path asks: may this user do this to this layer (or this feature of it)?

Every write (the REST API's features, the form rules, and any later protocol) comes through `may`, never through
`Layer.can_edit` directly, so the rights model can be replaced here alone. Today there is one right: whoever may
change the layer (its owner agency's members, whoever made it, administrators) may do everything; `action` and
`feature` are passed so per-layer grants (add / edit own / edit all / delete / publish) can answer per action.
"""

ADD, EDIT, DELETE, FORM, ROLLBACK = "add", "edit", "delete", "form", "rollback"  # FORM: the form rules


def may(user, layer, action: str, feature: dict | None = None) -> bool:
    """`feature`: the feature's state before the change ({geometry, properties}), for an edit or delete."""
    return layer.can_edit(user)
