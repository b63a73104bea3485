from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from . import health, observability, second_factor_views, views
from .registry import app_modules

admin.site.site_header = "工会会员卡门户 · 管理后台"
admin.site.site_title = "工会会员卡门户"
admin.site.index_title = "管理"

urlpatterns = [
    # Staff get their dashboard at /, everyone else the members' landing page.
    path("", include("benefits.membersite.home_urls")),
    path("staff/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("login/", RedirectView.as_view(pattern_name="login", query_string=True), name="login_old"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/second-factor/enrol/", second_factor_views.enrol, name="second_factor_enrol"),
    path("account/second-factor/verify/", second_factor_views.verify, name="second_factor_verify"),
    path("account/security/", second_factor_views.account_security, name="account_security"),
    path("healthz", views.healthz, name="healthz"),
    path("health/live/", health.liveness, name="health_live"),
    path("health/ready/", health.readiness, name="health_ready"),
    path("health/ready/web/", health.readiness_web, name="health_ready_web"),
    path("metrics", observability.metrics, name="metrics"),
    path("members/", include("members.urls")),
    path("audit/", include("cardportal.audit_urls")),
    path("me/drops/", include("benefits.drops.member_urls")),
    path("me/", include("benefits.membersite.urls")),
    path("drops/", include("benefits.drops.urls")),
    path("subsidies/", include("benefits.subsidies.urls")),
    path("sms/", include("members.sms.urls")),
    path("usage/", include("merchants.usage.urls")),
    path("analytics/", include("quotas.analytics.urls")),
    path("api/", include(("cardportal.api_urls", "api"))),
    path("admin/", admin.site.urls),
]

# Apps with pages of their own mount them under their name.
for app, module in app_modules("urls"):
    urlpatterns.append(path(f"{app}/", include(module)))
