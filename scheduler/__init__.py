"""The domain core of the CCHC broadcast orchestrator: plans, announcements, deliveries, dispatch."""
