from django.urls import path

from . import views, views_language, views_password
from .oidc import views as external_login_views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("welcome/<slug:step>/", views.first_login, name="first_login"),
    # Language: each signed-in user's own UI language
    path("language/", views_language.language, name="language"),
    # Security widget, Password tab: Forgot Password
    path("password/forgot/", views_password.forgot_password, name="forgot_password"),
    path("password/reset/<uidb64>/<token>/", views_password.reset_password_confirm, name="password_reset_confirm"),
    # Access Management: OAuth2 ADFS and SSO client sign-in (the login page's buttons)
    path("login/<slug:kind>/", external_login_views.start, name="external_login"),
    path("login/<slug:kind>/callback/", external_login_views.callback, name="external_login_callback"),
]
