"""Every URL of the application, in one place."""

from __future__ import annotations

from pyramid.config import Configurator


def includeme(config: Configurator) -> None:
    config.add_static_view("static", "pypicloud:static", cache_max_age=3600)
    config.add_route("root", "/")
    config.add_route("health", "/health")
    config.add_route("health_live", "/health/live")
    config.add_route("metrics", "/metrics")

    # Simple repository API (PEP 503/691); /pypi/ is the original pypicloud's alias.
    for prefix in ("simple", "pypi"):
        config.add_route(f"{prefix}_index", f"/{prefix}/")
        config.add_route(f"{prefix}_index_noslash", f"/{prefix}")
    config.add_route("simple_project", "/simple/{name}/")
    config.add_route("simple_project_noslash", "/simple/{name}")

    # PyPI's JSON API, then the /pypi/ alias of project pages.
    config.add_route("pypi_json", "/pypi/{name}/json")
    config.add_route("pypi_version_json", "/pypi/{name}/{version}/json")
    config.add_route("pypi_project", "/pypi/{name}/")
    config.add_route("pypi_project_noslash", "/pypi/{name}")

    # PEP 740 provenance, at PyPI's Integrity API path.
    config.add_route("provenance", "/integrity/{name}/{version}/{filename}/provenance")

    # pypicloud's REST API; files are downloaded from their stable URL here.
    config.add_route("api_packages", "/api/package/")
    config.add_route("api_project", "/api/package/{name}/")
    config.add_route("api_release", "/api/package/{name}/{version}/")
    # Before api_file: no distribution file is named "status".
    config.add_route("api_project_status", "/api/package/{name}/status")
    config.add_route("api_release_keep", "/api/package/{name}/{version}/keep")
    config.add_route("api_file", "/api/package/{name}/{filename}")

    # Accounts and API tokens.
    config.add_route("login", "/acct/login")
    config.add_route("logout", "/acct/logout")
    config.add_route("token_register", "/acct/tokenRegister")
    config.add_route("api_password", "/api/user/password")
    config.add_route("api_register", "/api/user/{username}")
    config.add_route("api_tokens", "/api/tokens")
    config.add_route("api_token", "/api/tokens/{token_id}")

    # Administration (the original pypicloud's URLs and bodies).
    config.add_route("admin_rebuild", "/admin/rebuild")
    config.add_route("admin_rebuild_status", "/admin/rebuild/status")
    config.add_route("admin_users", "/admin/user")
    config.add_route("admin_user", "/admin/user/{username}")
    config.add_route("admin_user_approve", "/admin/user/{username}/approve")
    config.add_route("admin_user_admin", "/admin/user/{username}/admin")
    config.add_route("admin_user_group", "/admin/user/{username}/group/{group}")
    config.add_route("admin_user_permissions", "/admin/user/{username}/permissions")
    config.add_route("admin_groups", "/admin/group")
    config.add_route("admin_group", "/admin/group/{group}")
    config.add_route("admin_package", "/admin/package/{package}")
    config.add_route("admin_permission", "/admin/package/{package}/{kind}/{principal}/{permission}")
    config.add_route("admin_pending", "/admin/pending_users")
    config.add_route("admin_register", "/admin/register")
    config.add_route("admin_signup_token", "/admin/token/{username}")
    config.add_route("admin_acl", "/admin/acl.json.gz")
    config.add_route("admin_tokens", "/admin/tokens")
    config.add_route("admin_audit", "/admin/audit")
    config.add_route("admin_publishers", "/admin/publishers")
    config.add_route("admin_publisher", "/admin/publishers/{publisher_id}")

    # Trusted publishing: PyPI's URLs, so twine and uv find them.
    config.add_route("oidc_audience", "/_/oidc/audience")
    config.add_route("oidc_mint_token", "/_/oidc/mint-token")
    config.add_route("oidc_burn_token", "/_/oidc/burn-token")
    config.add_route("oidc_discovery", "/.well-known/pytp")  # draft PEP 807

    # The web UI (server-rendered pages; "/" is its home page).
    config.add_route("web_project", "/project/{name}/")
    config.add_route("web_project_noslash", "/project/{name}")
    config.add_route("web_yank", "/project/{name}/yank")
    config.add_route("web_delete", "/project/{name}/delete")
    config.add_route("web_project_status", "/project/{name}/status")
    config.add_route("web_upload", "/upload")
    config.add_route("web_account", "/account")
    config.add_route("web_password", "/account/password")
    config.add_route("web_tokens", "/account/tokens")
    config.add_route("web_token_revoke", "/account/tokens/{token_id}/revoke")
    config.add_route("web_admin", "/manage")
    config.add_route("web_admin_action", "/manage/action")
