"""One way to render a form field in both workspaces (settings.FORM_RENDERER).

``{{ form }}`` renders ``templates/includes/forms/form.html`` and ``{{ form.x.as_field_group }}``
renders ``templates/includes/forms/field.html``: label, control, help and errors laid out the
same on every page (a checkbox with its label beside it, choices in a fieldset with a legend).
See docs/development/patterns.md, "Forms and toolbars".
"""

from django.forms.renderers import TemplatesSetting


class FormRenderer(TemplatesSetting):
    form_template_name = "includes/forms/form.html"
    field_template_name = "includes/forms/field.html"
