"""Translation helpers usable from services (evaluated lazily, in the reader's locale)."""
from flask_babel import lazy_gettext as _l  # noqa: F401  (re-exported)
from flask_babel import gettext as _  # noqa: F401
