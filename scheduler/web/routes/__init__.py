"""The web app's routers, one module per area; ``create_web`` includes them in this order."""

from scheduler.web.routes import (
           accounts,
           activities,
           announcements,
           api,
           dashboard,
           deliveries,
           health,
           login,
           province,
           views,
)

ROUTERS = [login.router, dashboard.router, announcements.router, deliveries.router, views.router, activities.router,
           province.router, accounts.router, api.router, health.router]
