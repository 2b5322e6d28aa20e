"""Sign-in, sign-out and the initial login wizard."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.hashers import make_password
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.services import ratelimit
from core import events
from core.service_views import service_errors

from .forms import CertificateStepForm, LanguageStepForm, LoginForm, PasswordStepForm
from .services import password_policy, sessions  # noqa: F401  (sessions: signal receivers)
from .services.users import check_new_password, complete_first_login
from .tls_info import server_certificate_summary


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        limited = login_rate_limit_error(request)
        if limited is None:
            response = super().post(request, *args, **kwargs)
            if response.status_code != 302:  # the form came back: a failed sign-in
                ratelimit.record_failure("login", request, ratelimit.normalise(request.POST.get("username")))
            return response
        form, retry_after = limited
        response = self.render_to_response(self.get_context_data(form=form), status=429)
        response["Retry-After"] = str(retry_after)
        return response

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["forgot_password_enabled"] = password_policy.current().forgot_password_enabled
        return context

    def form_valid(self, form):
        # The form has applied the sign-in policy (accounts/services/login_policy.py); what is
        # left is the web's own continuation: login() registers the session under the session
        # limit (sessions.py, a signal), and an expired password leads into the wizard.
        response = super().form_valid(form)
        password_policy.at_login(self.request, form.get_user())
        return response


def login_rate_limit_error(request):
    """The sign-in rate limit (accounts/services/ratelimit.py), checked before any password is: over it,
    ``(form with the error, retry_after)``, else None."""
    from django.forms.utils import ErrorDict

    username = request.POST.get("username", "")[:150]
    verdict = ratelimit.check("login", request, ratelimit.normalise(username))
    if verdict.allowed:
        return None
    events.record(
        "auth.login_rate_limited", ip=ratelimit.client_ip(request) or "an unknown address", user_name=username
    )
    form = LoginForm(request, data=request.POST)
    form.cleaned_data, form._errors = {}, ErrorDict()  # validated as refused: no authenticate() call
    form.add_error(
        None, _("Too many sign-in attempts. Try again in %(seconds)s seconds.") % {"seconds": verdict.retry_after}
    )
    return form, verdict.retry_after


@require_http_methods(["POST"])
def logout_view(request):
    if request.user.is_authenticated:
        events.record("auth.logout", actor=request.user, user_name=request.user.username)
    logout(request)
    messages.info(request, _("You have been logged out."))
    return redirect(settings.LOGOUT_REDIRECT_URL)


WIZARD_STEPS = ["language", "password", "certificate", "review"]
WIZARD_SESSION_KEY = "onprem_first_login"


@login_required
@require_http_methods(["GET", "POST"])
def first_login(request, step):
    """The 4-step initial login wizard: language, new password, SSL certificate, review.

    Choices are kept in the session between steps (the new password only as a salted hash);
    nothing about the user changes until "Next" on the review step.
    """
    if step not in WIZARD_STEPS:
        raise Http404
    if not request.user.needs_first_login_wizard:
        return redirect("home")
    state = request.session.setdefault(WIZARD_SESSION_KEY, {})
    # A step can be reached only after the ones before it are done.
    for earlier in WIZARD_STEPS[: WIZARD_STEPS.index(step)]:
        if earlier not in state:
            return redirect("first_login", step=earlier)
    index = WIZARD_STEPS.index(step)
    previous = WIZARD_STEPS[index - 1] if index else None
    context = {"step": step, "step_number": index + 1, "steps": WIZARD_STEPS, "previous": previous}

    if step == "review":
        return _review_step(request, state, context)

    form_class = {"language": LanguageStepForm, "password": PasswordStepForm, "certificate": CertificateStepForm}[step]
    initial = {"language": state.get("language", request.user.language)} if step == "language" else None
    form = form_class(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        with service_errors(request, form):
            state[step] = _step_value(request.user, step, form.cleaned_data)
            request.session.modified = True
            return redirect("first_login", step=WIZARD_STEPS[index + 1])
    context["form"] = form
    if step == "certificate":
        context["certificate"] = server_certificate_summary()
    return render(request, "accounts/first_login.html", context)


def _step_value(user, step, data):
    if step == "language":
        return data["language"]
    if step == "password":
        check_new_password(user, data["new_password"])
        return make_password(data["new_password"])
    return True


def _review_step(request, state, context):
    if request.method == "POST":
        user = request.user
        with service_errors(request):
            forgot_file = complete_first_login(user=user, language=state["language"], password_hash=state["password"])
            # The guide: "The Wizard returns you to the Logon screen", to sign in with the new password.
            logout(request)
            messages.success(request, _("Your settings were saved. Log in with your new password."))
            if forgot_file:
                messages.info(
                    request, _("The generated password kept on the server is no longer needed: it was deleted.")
                )
            return redirect("login")
        return redirect("first_login", step="password")
    context["language_label"] = dict(settings.LANGUAGES).get(state["language"])
    return render(request, "accounts/first_login.html", context)
