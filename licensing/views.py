"""The Licensing workspace."""
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from accounts.rbac import visible_accounts


@login_required
def home(request):
    return render(request, "licensing/home.html", {"workspace": "licensing", "accounts": visible_accounts(request)})
