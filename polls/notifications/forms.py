from django import forms

from polls.notifications.models import NotificationKind


class EmailPreferencesForm(forms.Form):
    """One checkbox per kind: checked means it comes by mail too."""

    def __init__(self, *args, preferences: dict[str, bool], **kwargs):
        super().__init__(*args, **kwargs)
        for kind, label in NotificationKind.choices:
            self.fields[kind] = forms.BooleanField(
                label=label, required=False, initial=preferences.get(kind, True)
            )
