"""Shared test setup: tests marked `browser` skip, with the reason, where Chromium cannot run (and cannot be installed by
tools/install_browser.sh)."""
import pytest
from browser import why_no_browser


@pytest.fixture(autouse=True)
def _requires_browser(request):
    if request.node.get_closest_marker('browser') is None: return
    reason = why_no_browser()
    if reason: pytest.skip(reason)
