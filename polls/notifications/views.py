"""The fan's inbox and mail preferences, and the signed-out unsubscribe page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from polls.notifications import selectors, services
from polls.notifications.forms import EmailPreferencesForm
from polls.notifications.models import NotificationKind
from polls.notifications.rendering import notification_render
from voting.ratelimits import rate_limited


@login_required
@rate_limited("notification_write")
@require_http_methods(["GET", "POST"])
def inbox(request):
    if request.method == "POST":
        ids = [int(value) for value in request.POST.getlist("id") if value.isdigit()]
        services.notifications_mark_read(user=request.user, ids=ids or None)
        return redirect("notification_inbox")
    page = Paginator(selectors.inbox_of(user=request.user), 20).get_page(request.GET.get("page"))
    items = [
        (n, notification_render(kind=n.kind, params=n.announcement.params, user=request.user)) for n in page
    ]
    return render(request, "notifications/inbox.html", {"page": page, "items": items})


@login_required
@rate_limited("notification_write")
@require_http_methods(["GET", "POST"])
def preferences(request):
    form = EmailPreferencesForm(
        request.POST or None, preferences=selectors.email_preferences_of(user=request.user)
    )
    if request.method == "POST" and form.is_valid():
        services.email_preferences_set(user=request.user, email_kinds=form.cleaned_data)
        messages.success(request, _("Your choices are saved."))
        return redirect("notification_preferences")
    return render(request, "notifications/preferences.html", {"form": form})


# RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click" to the link, with no
# cookie and no CSRF token; the signed token in the URL is the only authority, and all
# it can do is turn one kind of mail off for one fan. GET never changes anything (mail
# scanners follow links): it shows the confirmation form.
@csrf_exempt
@rate_limited("unsubscribe")
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    _user_id, kind = services.unsubscribe_token_read(token)
    label = NotificationKind(kind).label
    if request.method == "POST":
        services.unsubscribe(token=token)
        return render(request, "notifications/unsubscribed.html", {"kind_label": label})
    return render(request, "notifications/unsubscribe.html", {"kind_label": label, "token": token})
