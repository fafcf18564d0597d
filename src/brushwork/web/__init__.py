"""The web studio and REST API (``brushwork serve``): FastAPI + uvicorn, static assets in ``static/``.

Import :func:`brushwork.web.app.create_app` for the ASGI app; nothing here is imported by the rest of
brushwork (the web layer sits on top, like the CLI).
"""
