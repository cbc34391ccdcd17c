"""URL configuration of qiportal.

Every page needs a login (``LoginRequiredMiddleware``) except the login page itself and
the language switch, which the login page offers too.
"""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import set_language

from centres.views import HomeView

urlpatterns = [
    path("", HomeView.as_view(), name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="registration/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("sites/", include("centres.urls")),
    path("datasheets/", include("datasheets.urls")),
    path("indicators/", include("indicators.urls")),
    path("admin/", admin.site.urls),
]
