"""The admin side: access control, the JSON admin API over records and policies, and the live stream.

`luthien.admin.routes.admin_routes` builds the `/api` routes; the web UI (`luthien.web`) shares the
access control in `luthien.admin.access` and `luthien.admin.guard`.
"""
