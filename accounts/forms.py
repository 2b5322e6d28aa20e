from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


class LoginForm(AuthenticationForm):
    """The login form: the sign-in policy (``accounts.services.login_policy``) in place of
    Django's bare ``authenticate()``, the same rules the OAuth2 password grant applies."""

    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
    password = forms.CharField(
        label=_("Password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )

    def clean(self):
        from .services import login_policy

        username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if username is not None and password:
            invalid = self.error_messages["invalid_login"] % {"username": self.username_field.verbose_name}
            verdict = login_policy.check(self.request, username, password, web=True, invalid_message=invalid)
            if not verdict.allowed:
                raise forms.ValidationError(verdict.message, code=verdict.rule)
            self.user_cache = verdict.user
        return self.cleaned_data


class LanguageStepForm(forms.Form):
    language = forms.ChoiceField(label=_("Default language"), choices=settings.LANGUAGES, widget=forms.RadioSelect)


class PasswordStepForm(forms.Form):
    new_password = forms.CharField(
        label=_("New password"),
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    confirm_password = forms.CharField(
        label=_("Confirm new password"),
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        data = super().clean()
        if data.get("new_password") and data.get("new_password") != data.get("confirm_password"):
            raise forms.ValidationError(_("The two passwords do not match."))
        return data


class CertificateStepForm(forms.Form):
    confirmed = forms.BooleanField(label=_("The certificate my browser shows matches this one"), required=True)
