from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


class LoginForm(AuthenticationForm):
    username = forms.CharField(label=_("Username"), max_length=150,
                               widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}))
    password = forms.CharField(label=_("Password"), strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


class LanguageStepForm(forms.Form):
    language = forms.ChoiceField(label=_("Default language"), choices=settings.LANGUAGES, widget=forms.RadioSelect)


class PasswordStepForm(forms.Form):
    new_password = forms.CharField(label=_("New password"), strip=False, max_length=128,
                                   widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    confirm_password = forms.CharField(label=_("Confirm new password"), strip=False, max_length=128,
                                       widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def clean(self):
        data = super().clean()
        if data.get("new_password") and data.get("new_password") != data.get("confirm_password"):
            raise forms.ValidationError(_("The two passwords do not match."))
        return data


class CertificateStepForm(forms.Form):
    confirmed = forms.BooleanField(label=_("The certificate my browser shows matches this one"), required=True)
