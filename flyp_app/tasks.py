"""The old name of `flyp_app.blend_tasks`, kept only while flyp_app/pages/blend_page.py and
try_page.py still import it (they were being changed on other branches when the module was renamed):
once they import `flyp_app.blend_tasks`, delete this module."""

from flyp_app.blend_tasks import blend_curve, evaluate_at, export_model  # noqa: F401
