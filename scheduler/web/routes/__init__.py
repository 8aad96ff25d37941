"""The web app's routers, one module per area; ``create_web`` includes them in this order."""

from scheduler.web.routes import accounts, announcements, api, dashboard, deliveries, health, login, views

ROUTERS = [login.router, dashboard.router, announcements.router, deliveries.router, views.router, accounts.router,
           api.router, health.router]
