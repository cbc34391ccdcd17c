"""URL configuration of qiportal.

Every page needs a login (``LoginRequiredMiddleware``) except the login page itself and
the language switch, which the login page offers too.

The ``centres`` namespace (``/sites/``) joins the centres app's site list with the site
page and its revisions partial from ``datasheets.site_views``: that page shows data
sheets and deviations, which ``centres`` must not import (STYLE §4), while the URL names
``centres:site_detail`` and ``centres:site_revisions`` stay as they were.
"""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import set_language

from centres import notification_views
from centres import urls as centres_urls
from centres import views as centres_views
from datasheets import site_views

from .views import HomeView, SystemStatusView

site_patterns = [
    *centres_urls.urlpatterns,
    path("<int:pk>/", site_views.SiteDetailView.as_view(), name="site_detail"),
    path("<int:pk>/revisions/", site_views.SiteRevisionsView.as_view(), name="site_revisions"),
]

urlpatterns = [
    path("", HomeView.as_view(), name="home"),
    path("system/", SystemStatusView.as_view(), name="system_status"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="registration/login.html", redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("login-lockouts/", centres_views.LoginLockoutListView.as_view(), name="login_lockout_list"),
    path("login-lockouts/unlock/", centres_views.LoginLockoutResetView.as_view(), name="login_lockout_reset"),
    path(
        "account/notifications/",
        notification_views.NotificationSettingsView.as_view(),
        name="notification_settings",
    ),
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("sites/", include((site_patterns, centres_urls.app_name))),
    path("datasheets/", include("datasheets.urls")),
    path("indicators/", include("indicators.urls")),
    path("audits/", include("qiportal.audit_urls")),
    path("admin/", admin.site.urls),
]

handler403 = "qiportal.views.permission_denied"
handler404 = "qiportal.views.page_not_found"
