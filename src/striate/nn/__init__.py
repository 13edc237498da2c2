"""Layers (``striate.nn``): Modules that hold Parameters and call ``striate.functional``."""
from . import init  # noqa: F401
from .activation import *  # noqa: F401,F403
from .container import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .fusion import *  # noqa: F401,F403
from .hooks import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .local import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .module import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .parameter import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
