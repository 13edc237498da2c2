"""The functional API (``striate.functional``, also ``striate.F``): fused Functions and wrappers.

Each family module lists its public wrappers in ``__all__``; only those are exported here
(Chainer's ``functions/__init__.py`` pattern).
"""
from .activation import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .fused import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .local import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .shape import *  # noqa: F401,F403
