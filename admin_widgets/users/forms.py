"""Forms of the Users widget. They check the shape of the input; the business rules (unique
name, password strength, who may do what) are the services' in ``accounts.services.users``."""

from django import forms
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.utils.translation import gettext_lazy as _


def _password_field(label):
    return forms.CharField(
        label=label, strip=False, max_length=128, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )


class _PasswordPairForm(forms.Form):
    """Two password fields that must match; subclasses name them in ``password_fields``."""

    password_fields = ("password", "password_again")

    def clean(self):
        data = super().clean()
        first, second = (data.get(name) for name in self.password_fields)
        if first and second and first != second:
            self.add_error(self.password_fields[1], _("The two passwords do not match."))
        return data


class UserCreateForm(_PasswordPairForm):
    """The guide's "Adding a New User" fields, in its order."""

    first_name = forms.CharField(label=_("First Name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last Name"), max_length=150, required=False)
    description = forms.CharField(
        label=_("Description"),
        max_length=255,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("For example the user's role, position or responsibilities in SSM On-Prem."),
    )
    username = forms.CharField(
        label=_("User Name"),
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        help_text=_("Letters, digits and @ . + - _ only."),
    )
    email = forms.EmailField(
        label=_("Email"), max_length=254, required=False, help_text=_("Optional but strongly recommended.")
    )
    password = _password_field(_("Password"))
    password_again = _password_field(_("Re-enter Password"))


class PasswordResetForm(_PasswordPairForm):
    password_fields = ("new_password", "new_password_again")

    new_password = _password_field(_("New password"))
    new_password_again = _password_field(_("Re-enter new password"))
