"""Messages written now and read later, in the reader's language.

A job's progress notes and errors are written by a worker that does not know who will read them (a zh-Hant page,
an English one, the batch command). So they are kept as their msgid — the zh-Hant source text, translated in
locale/ like the rest of the UI — and their parameters, and worded when read (`render`, in the active language;
the job serializer renders them in the request's). A parameter may itself be such a message, a list of them
(joined with the language's list separator), or a value per language ({"by_language": {"zh-hant": …, "en": …}}).
Old rows hold plain strings, which read as they are.
"""

from django.utils import translation
from django.utils.translation import gettext


def text(msgid: str, **params) -> dict:
    """A message to keep: its msgid (zh-Hant, with {named} fields) and the values for its fields."""
    return {"msgid": msgid, "params": params} if params else {"msgid": msgid}


class Worded:
    """Mixed into an exception whose message is a msgid with {named} fields given as keyword arguments: it keeps
    them (`text()`, for a job to store) and reads in the active language (`str()`, for an answer now)."""

    def __init__(self, message: str, **params):
        self.params = params
        super().__init__(message)

    def text(self) -> dict:
        return text(self.args[0], **self.params)

    def __str__(self):
        return render(self.text())


def by_language(**texts: str) -> dict:
    """A value that differs by language (e.g. a layer's title_zh / title_en): by_language(**{"zh-hant": a, "en": b})."""
    return {"by_language": texts}


def is_message(value) -> bool:
    return isinstance(value, dict) and "msgid" in value


def _value(value):
    if is_message(value):
        return render(value)
    if isinstance(value, dict) and "by_language" in value:
        texts = value["by_language"]
        language = (translation.get_language() or "zh-hant").lower()
        return texts.get(language) or texts.get(language.split("-")[0]) or next(iter(texts.values()), "")
    if isinstance(value, list):
        return gettext("、").join(str(_value(v)) for v in value)
    return value


def render(message) -> str:
    """The message in the active language. Plain strings (rows written before messages were kept this way) and
    `{"message": …}` dicts without a msgid read as they are."""
    from layers.importing.errors import without_server_paths

    if isinstance(message, str):
        return message
    if not is_message(message):
        return str(message.get("message", "")) if isinstance(message, dict) else str(message)
    params = {k: _value(v) for k, v in (message.get("params") or {}).items()}
    if not params:  # a legacy text may hold braces of its own
        return without_server_paths(gettext(message["msgid"]))
    try:
        return without_server_paths(gettext(message["msgid"]).format(**params))
    except (KeyError, IndexError, ValueError):  # a translation naming a field the message lacks: say it untranslated
        return without_server_paths(message["msgid"].format(**params))


def render_in(message, language: str) -> str:
    with translation.override(language):
        return render(message)


def in_english(message) -> str:
    """For the server's log and the batch command's summary."""
    return render_in(message, "en")


def worded(msgid: str, **params) -> str:
    """A message for an answer given now (not kept), in the active language."""
    return render(text(msgid, **params))
