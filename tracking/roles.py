"""The three admin roles and what each may do, kept in sync on every migrate.

Roles are granted per app and action rather than per model, so models that later apps add are
covered without touching this file.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType

ALL = ("add", "change", "delete", "view")
VIEW = ("view",)

ROLES: dict[str, dict[str, tuple[str, ...]]] = {
    # Operators run the data: sources, profiles, imports, audiences, channel settings.
    "operator": {
        # core: the set-aside rows list (Retry / Discard what the workers could not handle).
        "core": ALL,
        "tracking": ALL,
        "analytics": ALL,
        "audiences": ALL,
        "channels": ALL,
        "partner": ALL,
        "journeys": VIEW,
        "reports": VIEW,
        "onsite": VIEW,
    },
    # Journey designers build lifecycle programmes from audiences and templates.
    "journey designer": {
        "tracking": VIEW,
        "analytics": VIEW,
        "audiences": VIEW,
        "channels": ("view", "add", "change"),
        "partner": VIEW,
        "journeys": ALL,
        "reports": VIEW,
        "onsite": ALL,
    },
    # Marketers read what happened: reports, campaigns, audiences.
    "marketer": {
        "tracking": VIEW,
        "analytics": VIEW,
        "audiences": VIEW,
        "channels": VIEW,
        "partner": VIEW,
        "journeys": VIEW,
        "reports": VIEW,
        "onsite": VIEW,
    },
}
# Personal data (profile pages: identities, contact points, traits, timelines; audience member
# exports) is its own permission, beyond viewing tracking's models: marketers read figures, not people.
PERSONAL_DATA = "tracking.view_personal_data"
PERSONAL_DATA_NAME = "Can view personal data (profile pages, audience member exports)"


def can_view_personal_data(user: Any) -> bool:
    return bool(user and user.is_active and user.has_perm(PERSONAL_DATA))


class PersonalDataAdmin:
    """Mixin for admin pages that show people (addresses, identities, event properties, message
    bodies): viewing or changing them also needs PERSONAL_DATA. Put it before ModelAdmin."""

    def has_view_permission(self, request: Any, obj: Any = None) -> bool:
        return can_view_personal_data(request.user) and super().has_view_permission(request, obj)  # type: ignore[misc]

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return can_view_personal_data(request.user) and super().has_change_permission(request, obj)  # type: ignore[misc]


def personal_data_permission_ensure() -> None:
    """The permission lives on Profile's content type; made here so no model needs a migration."""
    from tracking.models import Profile

    Permission.objects.get_or_create(
        content_type=ContentType.objects.get_for_model(Profile),
        codename=PERSONAL_DATA.split(".", 1)[1],
        defaults={"name": PERSONAL_DATA_NAME},
    )


# Extra named permissions (app_label.codename) a role holds beyond the model actions.
BEHAVIOUR_READ = ("analytics.view_behaviour", "analytics.view_savedanalysis")
# Those who read behaviour analytics may save their analyses too (and edit the saved ones).
BEHAVIOUR_SAVE = (
    "analytics.add_savedanalysis",
    "analytics.change_savedanalysis",
    "analytics.delete_savedanalysis",
)
EXTRA: dict[str, tuple[str, ...]] = {
    "marketer": (
        "reports.view_reports",
        "analytics.view_growth",
        *BEHAVIOUR_READ,
        *BEHAVIOUR_SAVE,
        # Merchandisers keep the search synonym list the keyword page reads.
        "analytics.view_searchsynonym",
        "analytics.add_searchsynonym",
        "analytics.change_searchsynonym",
        "analytics.delete_searchsynonym",
    ),
    "operator": (
        PERSONAL_DATA,
        "reports.view_reports",
        "analytics.view_growth",
        *BEHAVIOUR_READ,
        *BEHAVIOUR_SAVE,
        # Operators keep the settings the behaviour pages read.
        "analytics.view_eventnamemapping",
        "analytics.add_eventnamemapping",
        "analytics.change_eventnamemapping",
        "analytics.delete_eventnamemapping",
        "analytics.view_searchsynonym",
        "analytics.add_searchsynonym",
        "analytics.change_searchsynonym",
        "analytics.delete_searchsynonym",
    ),
    # Designers preview templates with a real profile and test-send to it.
    "journey designer": (PERSONAL_DATA, "reports.view_reports", "analytics.view_growth", *BEHAVIOUR_READ),
}


def roles_sync() -> None:
    personal_data_permission_ensure()
    for role, grants in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        perms = []
        for app_label, actions in grants.items():
            for perm in Permission.objects.filter(content_type__app_label=app_label):
                # "view_personal_data" starts like a view permission but is granted only by name.
                if f"{app_label}.{perm.codename}" == PERSONAL_DATA:
                    continue
                if perm.codename.split("_", 1)[0] in actions:
                    perms.append(perm)
        for dotted in EXTRA.get(role, ()):
            app_label, codename = dotted.split(".", 1)
            perms.extend(Permission.objects.filter(content_type__app_label=app_label, codename=codename))
        group.permissions.set(perms)


def roles_sync_on_migrate(sender: Any, **kwargs: Any) -> None:
    # post_migrate fires once per app; the last app's call sees every permission.
    roles_sync()
