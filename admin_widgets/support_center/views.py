"""Support Center widget: the server's logs, viewed live, searched and downloaded (guide
"Support Center Widget"). Open to System Admins and Operators (docs/rbac.md, ``view_logs``)."""

from django.http import FileResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.decorators import requires
from accounts.rbac import Action
from core.errors import ServiceError

from . import logs


@requires(Action.VIEW_LOGS)
@require_GET
def support_center(request):
    files = logs.log_files()
    selected = request.GET.get("log", "")
    context = {
        "workspace": "admin",
        "files": files,
        "selected": selected,
        "quick_searches": logs.QUICK_SEARCHES,
        "pattern": request.GET.get("pattern", ""),
        "quick": request.GET.get("quick", ""),
    }
    if selected:
        try:
            context["lines"], context["offset"] = logs.tail(selected)
            if context["pattern"]:
                context["matches"] = logs.search(selected, context["pattern"])
            elif context["quick"]:
                context["matches"] = logs.quick_search(selected, context["quick"])
        except ServiceError as error:
            context["error"] = error.message
    return render(request, "admin_widgets/support_center/logs.html", context)


@requires(Action.VIEW_LOGS)
@require_GET
def log_tail(request, name):
    """JSON for the live view: the lines appended since ``offset``, filtered by ``filter``."""
    try:
        offset = int(request.GET["offset"]) if "offset" in request.GET else None
    except ValueError:
        return JsonResponse({"error": "offset must be a whole number"}, status=400)
    try:
        lines, next_offset = logs.tail(name, offset)
        lines = logs.filter_lines(lines, request.GET.get("filter", ""))
    except ServiceError as error:
        return JsonResponse({"error": error.message}, status=404 if error.field == "log" else 400)
    return JsonResponse({"lines": lines, "offset": next_offset})


@requires(Action.VIEW_LOGS)
@require_GET
def log_download(request, name):
    try:
        log = logs.find(name)
    except ServiceError as error:
        return JsonResponse({"error": error.message}, status=404)
    return FileResponse(log.path.open("rb"), as_attachment=True, filename=log.name, content_type="text/plain")


@requires(Action.VIEW_LOGS)
@require_GET
def log_download_all(request):
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    return FileResponse(
        logs.zip_all(), as_attachment=True, filename=f"ssm-onprem-logs-{stamp}.zip", content_type="application/zip"
    )
