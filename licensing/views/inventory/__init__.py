"""Smart Licensing > Inventory: the General, Licenses, Product Instances and SL Using Policy tabs
of one local virtual account, a module each (``general_tab``, ``licenses_tab``,
``product_instances_tab``, ``slp_tab``);
``page`` is what they share. What the tabs read comes from ``licensing.services.inventory_queries``.

The virtual account is chosen with ``?va=<id>`` among those the principal may see
(``visible_virtual_accounts``); without it the Default one (or the first visible one) is shown.
A virtual account the principal may not see, or one of another local account, answers 404 like
an invisible account does (see ``workspace``); 403 is kept for a visible virtual account on
which the action is not allowed.
"""

from .event_log_tab import event_log, event_log_csv
from .general_tab import general, token_download, token_new, token_remove, token_revoke
from .license_tags import license_tag_delete, license_tag_rename, license_tags_edit, license_tags_manage
from .licenses_tab import license_bulk_transfer, license_transfer, licenses, licenses_csv
from .ports_tab import license_port
from .product_instances_tab import (
    product_instance_remove,
    product_instance_transfer,
    product_instances,
    product_instances_csv,
)
from .reservations_tab import (
    product_instance_reservation_return,
    product_instance_reservation_update,
    product_instance_reservations,
)
from .slp_tab import sl_using_policy, sl_using_policy_sync
from .upgrades_tab import license_assignment, license_upgrade

__all__ = [
    "event_log",
    "event_log_csv",
    "general",
    "license_assignment",
    "license_port",
    "license_tag_delete",
    "license_tag_rename",
    "license_tags_edit",
    "license_tags_manage",
    "license_transfer",
    "license_bulk_transfer",
    "license_upgrade",
    "licenses",
    "licenses_csv",
    "product_instance_remove",
    "product_instance_reservation_return",
    "product_instance_reservation_update",
    "product_instance_reservations",
    "product_instance_transfer",
    "product_instances",
    "product_instances_csv",
    "sl_using_policy",
    "sl_using_policy_sync",
    "token_download",
    "token_new",
    "token_remove",
    "token_revoke",
]
