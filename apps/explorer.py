"""``panel serve apps/explorer.py [--args --sky PATH --workspace PATH]`` from a checkout.

The app itself ships inside the package (``core/resources/explorer.py``, what ``astrom3 serve``
serves); this wrapper keeps the checkout's command and its ``/explorer`` address.
"""
from core.resources.explorer import main

main(script=__file__)
