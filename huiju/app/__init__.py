"""Assembly, the top layer: the runtime built from the settings (bootstrap), the web process, the
Celery worker, the callbacks that join the exchange to the engine, the seed data and the demo."""
