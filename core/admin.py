"""Admin for API tokens: the raw token is shown once, on the page after creation, and never stored.

Creation follows post/redirect/get: the POST creates the token and redirects to its "created" page,
which shows the raw value once. Between the two requests the value waits in the server-side session
(the database session backend; never a cookie), and the page drops it from there as it shows it: a
refresh, or the page opened again, shows that the value is gone, and creates nothing.
"""

from __future__ import annotations

import secrets

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

from core.models import TOKEN_PREFIX, ApiToken, hash_token

CREATED = "admin_api_token_created"  # session key: {"pk": ..., "raw": ...} until the created page shows it


class RevokedFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("revoked", "Revoked")]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "name", "user", "can_write", "created_at", "last_used_at", "revoked"]
    list_filter = [RevokedFilter, "can_write"]
    list_select_related = ["user"]
    search_fields = ["prefix", "name", "user__username", "user__email"]
    autocomplete_fields = ["user"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke_selected"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["user", "name", "can_write"]
        return ["user", "name", "can_write", "prefix", "created_at", "last_used_at", "revoked_at"]

    def get_readonly_fields(self, request, obj=None):
        # A token never changes hands: its owner decides what it may read.
        return [*self.readonly_fields, "user"] if obj else self.readonly_fields

    @admin.display(boolean=True, description="revoked", ordering="revoked_at")
    def revoked(self, token: ApiToken) -> bool:
        return token.revoked_at is not None

    def save_model(self, request: HttpRequest, obj: ApiToken, form, change: bool) -> None:
        if not change:
            raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
            obj.prefix, obj.key_hash = raw[:10], hash_token(raw)
            obj._raw_token = raw  # for response_add only; never saved
        super().save_model(request, obj, form, change)

    def response_add(self, request: HttpRequest, obj: ApiToken, post_url_continue=None) -> HttpResponse:
        raw = getattr(obj, "_raw_token", None)
        if raw is None:
            return super().response_add(request, obj, post_url_continue)
        request.session[CREATED] = {"pk": obj.pk, "raw": raw}
        return HttpResponseRedirect(reverse("admin:core_apitoken_created", args=[obj.pk]))

    def get_urls(self):
        created = path(
            "<int:object_id>/created/", self.admin_site.admin_view(self.created_view), name="core_apitoken_created"
        )
        return [created, *super().get_urls()]  # before the catch-all change URL

    def created_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """The page after creation: the raw token once (taken out of the session), then never again."""
        token = self.get_object(request, str(object_id))
        if token is None:
            raise Http404("No such token.")
        if not self.has_view_or_change_permission(request, token):
            raise PermissionDenied
        waiting = request.session.get(CREATED)
        raw = request.session.pop(CREATED)["raw"] if waiting and waiting.get("pk") == token.pk else None
        context = {
            **self.admin_site.each_context(request),
            "title": "API token created",
            "opts": self.opts,
            "token": token,
            "raw_token": raw,
        }
        response = TemplateResponse(request, "admin/core/apitoken/created.html", context)
        add_never_cache_headers(response)
        return response

    @admin.action(description="Revoke selected tokens")
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        revoked = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)
