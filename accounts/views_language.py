"""The Language page: every signed-in user picks the language the UI speaks to them.

The first-login wizard sets ``User.language`` once; the admin Settings widget only sets the
system default (for signed-out pages). This page lets any signed-in user change their own.
"""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods


class LanguageForm(forms.Form):
    # Choices come from settings.LANGUAGES, so an unknown code is rejected by the form itself.
    language = forms.ChoiceField(label=gettext_lazy("Language"), choices=settings.LANGUAGES, widget=forms.RadioSelect)


@login_required
@require_http_methods(["GET", "POST"])
def language(request):
    """GET shows the choice; POST (CSRF-checked by the middleware) saves the user's language."""
    user = request.user
    if request.method == "POST":
        form = LanguageForm(request.POST)
        if form.is_valid():
            user.language = form.cleaned_data["language"]
            user.save(update_fields=["language"])
            # Confirm in the language just chosen: that is what the next page will speak.
            with translation.override(user.language):
                messages.success(request, _("Your language was changed."))
            return redirect("language")
    else:
        form = LanguageForm(initial={"language": user.language})
    return render(request, "accounts/language.html", {"form": form})
