"""The viewer's rights in Superset: Gamma's read permissions without any that writes or opens
SQL Lab, one role per tenant on that tenant's database only, and the viewer users."""

from __future__ import annotations

from orchestration.tools.superset.api import Api
from orchestration.tools.superset.server import SupersetError

# Gamma's permissions a viewer keeps: reading, and the filter state a dashboard keeps per visit.
KEPT_WRITES = {"DashboardFilterStateRestApi", "ExploreFormDataRestApi"}
DROPPED = (
    "can_write",
    "can_save",
    "can_export",
    "can_csv",
    "can_share",
    "can_tag",
    "can_add",
    "can_edit",
    "can_delete",
    "can_bulk",
    "can_invalidate",
    "can_put",
    "can_cache",
    "can_file_handler",
    "can_this_form_post",
)


def ensure_role(api: Api, name: str, permission_ids: list[int]) -> int:
    found = [
        row for row in api.find("security/roles", [("name", "eq", name)]) if row["name"] == name
    ]
    role_id = (
        int(found[0]["id"])
        if found
        else int(api.post("/api/v1/security/roles/", {"name": name})["id"])
    )
    api.post(
        f"/api/v1/security/roles/{role_id}/permissions",
        {"permission_view_menu_ids": sorted(set(permission_ids))},
    )
    return role_id


def role_permissions(api: Api, role_name: str) -> list[dict]:
    (role,) = [
        r for r in api.find("security/roles", [("name", "eq", role_name)]) if r["name"] == role_name
    ]
    return api.get(f"/api/v1/security/roles/{role['id']}/permissions/")["result"]


def viewer_permission_ids(api: Api) -> list[int]:
    """Gamma's permissions without any that writes (charts, dashboards, datasets, exports)."""
    kept = []
    for row in role_permissions(api, "Gamma"):
        permission, view = row["permission_name"], row["view_menu_name"]
        if permission.startswith(DROPPED) and view not in KEPT_WRITES:
            continue
        if "sql" in permission.lower() or "sql" in view.lower() or "Registration" in view:
            continue
        kept.append(int(row["id"]))
    return kept


def database_permission_id(api: Api, database_id: int, database_name: str) -> int:
    view = f"[{database_name}].(id:{database_id})"
    resources = [
        r for r in api.find("security/resources", [("name", "eq", view)]) if r["name"] == view
    ]
    rows = []
    if resources:
        found = api.find(
            "security/permissions-resources", [("view_menu", "rel_o_m", resources[0]["id"])]
        )
        rows = [row for row in found if row["permission"]["name"] == "database_access"]
    if not rows:
        raise SupersetError(f"Superset has no database_access permission on {view}")
    return int(rows[0]["id"])


def ensure_user(api: Api, username: str, password: str, roles: list[int], name: str) -> int:
    body = {
        "first_name": "Viewer",
        "last_name": name[:60],
        "email": f"{username}@value-view.invalid",
        "active": True,
        "roles": roles,
    }
    found = [u for u in api.find("security/users", [("username", "eq", username)])]
    found = [u for u in found if u["username"] == username]
    if found:
        api.put(f"/api/v1/security/users/{found[0]['id']}", {**body, "password": password})
        return int(found[0]["id"])
    return int(
        api.post("/api/v1/security/users/", {**body, "username": username, "password": password})[
            "id"
        ]
    )
