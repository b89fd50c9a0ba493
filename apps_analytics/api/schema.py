"""Response shapes for the OpenAPI schema only: responses themselves are plain dicts rendered by orjson."""

from __future__ import annotations

from rest_framework import serializers

from apps_analytics import reporting
from core.schema import error_responses


class PeriodSerializer(serializers.Serializer):
    start_date = serializers.DateField(help_text="Start of the primary period.")
    end_date = serializers.DateField(help_text="End of the primary period (inclusive).")
    compare_start_date = serializers.DateField(allow_null=True, help_text="null if no comparison was requested.")
    compare_end_date = serializers.DateField(allow_null=True, help_text="null if no comparison was requested.")


class MetricWithDeltaDtoSerializer(serializers.Serializer):
    value = serializers.IntegerField(help_text="The metric over the primary period (an integer, rounded half up).")
    change_pct = serializers.FloatField(
        allow_null=True,
        help_text="(value - compare_value) / compare_value * 100, one decimal; null without comparison or when "
        "compare_value is 0.",
    )
    compare_value = serializers.IntegerField(allow_null=True, help_text="The metric over the comparison period.")


def _metric_fields() -> dict[str, serializers.Field]:
    help_texts = {
        "unique_users": "Distinct users who used the app at least once during the period.",
        "active_time_ms": "Total active time in milliseconds across all users during the period.",
        "avg_time_ms_per_day": "Mean over the granularity's buckets with activity of active time per active day.",
        "session_count": "Total sessions across all users during the period.",
    }
    return {name: MetricWithDeltaDtoSerializer(help_text=help_texts[name]) for name in reporting.PERIOD_METRICS}


AppUtilizationDetailSerializer = type(
    "AppUtilizationDetailSerializer", (serializers.Serializer,), {"period": PeriodSerializer(), **_metric_fields()}
)
AppUtilizationRowSerializer = type(
    "AppUtilizationRowSerializer",
    (serializers.Serializer,),
    {"app_id": serializers.UUIDField(), "name": serializers.CharField(), **_metric_fields()},
)


class PageSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Total number of rows over all pages.")
    next = serializers.URLField(allow_null=True, help_text="The next page, null on the last one.")
    previous = serializers.URLField(allow_null=True, help_text="The previous page, null on the first one.")


class AppUtilizationPageSerializer(PageSerializer):
    period = PeriodSerializer()
    results = AppUtilizationRowSerializer(many=True)


class ActivityPeriodSerializer(serializers.Serializer):
    start_date = serializers.DateField()
    end_date = serializers.DateField()


class ActivityPointSerializer(serializers.Serializer):
    date = serializers.DateField()
    value = serializers.IntegerField(help_text="Users, milliseconds or sessions of that day (0 without activity).")


class AppActivitySerializer(serializers.Serializer):
    metric = serializers.ChoiceField(choices=list(reporting.DAILY_METRICS))
    period = ActivityPeriodSerializer()
    points = ActivityPointSerializer(many=True, help_text="One point per day of the period, in date order.")


class AppUserRowSerializer(serializers.Serializer):
    user_id = serializers.UUIDField()
    email = serializers.EmailField()
    active_time_ms = serializers.IntegerField()
    session_count = serializers.IntegerField()
    active_days = serializers.IntegerField(help_text="Days of the period with activity on the app.")
    first_active_date = serializers.DateField()
    last_active_date = serializers.DateField()


class AppUsersPageSerializer(PageSerializer):
    period = ActivityPeriodSerializer()
    results = AppUserRowSerializer(many=True)


class AppSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    client_id = serializers.UUIDField()
    name = serializers.CharField()


class AppPageSerializer(PageSerializer):
    results = AppSerializer(many=True)


ERRORS = error_responses(
    e400="Invalid or unknown parameters.",
    e403="No grant for this client.",
    e404="Unknown client, or app not found in this client.",
)
