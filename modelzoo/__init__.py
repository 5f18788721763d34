"""modelzoo: the TensorFlow model zoo as one installable command-line tool.

Importing this package is cheap: TensorFlow is imported only by the modules that need it
(`engine`, `data`, `models`, `recipes`), never by `cli`, `config` or `registry`.
"""

__version__ = "0.1.0"
