"""Install the test session's network guard in every Python process it starts.

The session puts this directory first on PYTHONPATH and sets NONET_GUARD=1
(see ``tests/support/nonet.py``). Python imports the first ``sitecustomize``
on its path, so this one then runs the one it shadows (Debian's, say).
"""

import os

if os.environ.get("NONET_GUARD") == "1":
    import importlib.util
    import sys

    _path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "nonet.py")
    _spec = importlib.util.spec_from_file_location("_nonet", _path)
    if _spec is not None and _spec.loader is not None:
        _module = importlib.util.module_from_spec(_spec)
        sys.modules["_nonet"] = _module
        _spec.loader.exec_module(_module)
        _module.install_from_env()


def _chain() -> None:
    import importlib.machinery
    import importlib.util
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    path = [p for p in sys.path if os.path.abspath(p or ".") != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", path)
    if spec is not None and spec.loader is not None and spec.origin != __file__:
        spec.loader.exec_module(importlib.util.module_from_spec(spec))


_chain()
