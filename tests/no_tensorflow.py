"""`import tensorflow` made to fail, as on a machine where it is not installed (the GPU
machine): the backend sessions put NoTensorFlow first on `sys.meta_path`."""

import importlib.abc
import importlib.machinery


class NoTensorFlow(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Makes `import tensorflow` raise ImportError, as where it is not installed (its
    spec is still found: torch._dynamo looks for one, and only importing fails)."""

    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            return importlib.machinery.ModuleSpec(name, self)
        return None

    def create_module(self, spec):
        raise ImportError(f"{spec.name} is unimportable in this test")

    def exec_module(self, module):
        raise ImportError(f"{module.__name__} is unimportable in this test")
