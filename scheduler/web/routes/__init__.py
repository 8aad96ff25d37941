"""The web app's routers, one module per area; ``create_web`` includes them in this order. No router imports
another: what pages and the API share is in ``scheduler/web/actions.py``."""

from scheduler.web.routes import (
           accounts,
           activities,
           announcements,
           api,
           channels,
           dashboard,
           deliveries,
           health,
           login,
           plans,
           province,
           units,
           views,
)

PUBLIC = [login.router, health.router]  # no session: the login form, the fonts, /healthz
# Every other router is declared with STAFF (scheduler/web/deps.py): each of its routes needs a session.
ROUTERS = [*PUBLIC, login.session_router, dashboard.router, announcements.router, deliveries.router, views.router,
           channels.router, activities.router, plans.router, units.router, province.router, accounts.router,
           api.router]
