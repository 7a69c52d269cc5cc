"""The test suite, a package: benchmarks/ and the tests import its helpers by one name each
(``tests.assets.tiny_models``, ``tests.conftest``), with no change to sys.path."""
