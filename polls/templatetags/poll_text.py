"""A poll's text in the reader's language, marked with its real language when it falls
back to the poll's own (WCAG 3.1.2: a screen reader then pronounces it right).

    {% load poll_text %}
    <h1>{% poll_text poll "title" %}</h1>
    {% poll_language_note poll %}
    <title>{{ poll|poll_plain:"title" }}</title>
"""

from django import template
from django.template.defaultfilters import linebreaksbr
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from polls.content_languages import LocalizedText, language_name, localized

register = template.Library()


def _marked(text: LocalizedText, *, breaks: bool = False) -> SafeString:
    if not breaks:
        return mark_safe(text.__html__())
    body = linebreaksbr(text.text, autoescape=True)
    if not text.is_fallback or not text.text:
        return body
    return format_html('<span lang="{}">{}</span>', text.language, body)


@register.simple_tag
def poll_text(poll, field: str, breaks: bool = False) -> SafeString:
    """The poll's ``title`` or ``description``, escaped, with ``lang`` on a fallback;
    ``breaks`` keeps the line breaks (``linebreaksbr``)."""
    return _marked(localized(poll, field), breaks=breaks)


@register.simple_tag
def option_text(option, field: str, poll=None) -> SafeString:
    """An option's ``label`` or ``description``; give the poll when ``option.poll`` is
    not loaded (a ballot's choices), to save a query per option."""
    own = poll.language if poll is not None else None
    return _marked(localized(option, field, own_language=own))


@register.filter
def poll_plain(obj, field: str) -> str:
    """Plain text for attributes and ``<title>`` (no markup possible there)."""
    return localized(obj, field).text


@register.simple_tag
def poll_language_note(poll) -> SafeString:
    """ "Shown in English, the poll's language." when the reader's language has no
    translation of the title; nothing otherwise."""
    title = localized(poll, "title")
    if not title.is_fallback:
        return mark_safe("")
    return format_html(
        '<p class="muted language-note">{}</p>',
        _("Shown in %(language)s, the poll's language.") % {"language": language_name(title.language)},
    )
